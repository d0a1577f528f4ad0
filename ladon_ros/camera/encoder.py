"""Camera (robot) side: camera image -> ``WireFrame``. No ROS here.

``LadonCameraEncoder`` runs the tiny encoder + entropy coder; ``ImageCameraEncoder``
runs one of the image baselines. Both resize to the model's input size first, so the
baselines and Ladon see the same pixels.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ladon_ros.codec import bitstream
from ladon_ros.codec.image_codecs import IMAGE_CODECS, check_quality, encode_image
from ladon_ros.codec.preprocess import resize_rgb, to_tensor
from ladon_ros.codec.wire import WireFrame
from ladon_ros.export.canonical import EncoderWeights, QuantizeStats, quantize
from ladon_ros.export.rans import encode_symbols
from ladon_ros.export.tables import EntropyTables

# torch and the checkpoint loader are imported where used, so that the ONNX back end
# (``backend='onnx'``) runs on a camera without torch.


def check_camera_image(rgb: np.ndarray) -> None:
    """Raises ``ValueError`` unless ``rgb`` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got {getattr(rgb, "shape", None)} '
                         f'{getattr(rgb, "dtype", type(rgb))}')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError('image has zero size')


class LadonCameraEncoder:
    """Encoder + entropy coder of a Ladon checkpoint (torch backend).

    The latent is rounded by ``ladon_ros.export.canonical.quantize`` (CompressAI's rounding,
    with near-boundary values settled exactly), so this back end and the ONNX one
    (``ladon_ros.export.onnx_camera``) send identical bytes for the same image.
    """

    codec = 'ladon'

    def __init__(self, model, meta: 'CheckpointMeta', device: str = 'cpu'):
        import torch

        from ladon_ros.checkpoint import CheckpointError
        if meta.kind != 'ladon':
            raise CheckpointError(f'{meta.model_id!r} is a {meta.kind}, the camera side needs a ladon checkpoint')
        self.meta = meta
        self.device = torch.device(device)
        self.robot = model.robot_side().to(self.device).eval()
        self.tables = EntropyTables.from_entropy_bottleneck(self.robot.bottleneck.entropy_bottleneck)
        self.weights = EncoderWeights.from_encoder(self.robot.bottleneck.encoder.cpu(), meta.mean, meta.std)
        self.robot.to(self.device)
        self.stats = QuantizeStats()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = 'cpu') -> 'LadonCameraEncoder':
        """Loads a Ladon checkpoint (safetensors only)."""
        from ladon_ros.checkpoint import load_checkpoint
        model, meta = load_checkpoint(path)
        return cls(model, meta, device)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the image is resized to."""
        return self.meta.input_size

    def encode(self, rgb: np.ndarray) -> WireFrame:
        """Encodes one (H, W, 3) uint8 RGB camera image."""
        check_camera_image(rgb)
        t0 = time.perf_counter()
        small = resize_rgb(rgb, self.input_size)
        symbols = self.symbols(small)
        body = encode_symbols(symbols, self.tables)
        shape = tuple(symbols.shape)
        payload = bitstream.pack('ladon', shape, body, self.meta.weights_hash)
        return WireFrame('ladon', payload, rgb.shape[:2], shape, self.meta.model_id, self.meta.short_hash,
                         self.meta.rate_point, (time.perf_counter() - t0) * 1e3)

    def symbols(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) int32 latent symbols of an image already at ``input_size``."""
        import torch
        with torch.no_grad():
            x = to_tensor(small_rgb, self.meta.mean, self.meta.std).to(self.device)
            y = self.robot.bottleneck.encoder(x)[0].float().cpu().numpy()
        return quantize(y, small_rgb, self.tables.medians, self.weights, self.stats)


class ImageCameraEncoder:
    """One of the input-compression baselines (raw, JPEG, PNG, WebP)."""

    def __init__(self, codec: str, quality: int, input_size: tuple[int, int]):
        if codec not in IMAGE_CODECS:
            raise ValueError(f'unknown image codec {codec!r}; expected one of {IMAGE_CODECS}')
        check_quality(codec, quality)
        self.codec, self.quality, self.input_size = codec, int(quality), tuple(input_size)

    def encode(self, rgb: np.ndarray) -> WireFrame:
        """Encodes one (H, W, 3) uint8 RGB camera image."""
        check_camera_image(rgb)
        t0 = time.perf_counter()
        small = resize_rgb(rgb, self.input_size)
        body = encode_image(self.codec, small, self.quality)
        shape = (3, *self.input_size)
        payload = bitstream.pack(self.codec, shape, body)
        return WireFrame(self.codec, payload, rgb.shape[:2], shape, '', '', float(self.quality),
                         (time.perf_counter() - t0) * 1e3)



def make_camera_encoder(*, codec: str, checkpoint: str | Path | None = None, quality: int = 90,
                        device: str = 'cpu', backend: str = 'torch', onnx_dir: str | Path | None = None,
                        threads: int = 1):
    """Builds the camera-side encoder for ``codec``.

    Args:
        codec: ``'ladon'`` or an image codec.
        checkpoint: The Ladon checkpoint (for image codecs only its input size is read).
            Not needed with ``backend='onnx'``.
        quality: Image codec quality.
        device: Torch device of the Ladon encoder (torch back end).
        backend: ``'torch'`` (the checkpoint) or ``'onnx'`` (a folder written by
            ``ladon-ros export``: onnxruntime + numpy + rANS, torch is never imported).
        onnx_dir: The exported folder (``backend='onnx'``).
        threads: ONNX Runtime intra-op threads (``backend='onnx'``).
    """
    if backend not in ('torch', 'onnx'):
        raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}")
    if backend == 'onnx':
        if onnx_dir is None:
            raise ValueError("backend='onnx' needs onnx_dir (a folder written by `ladon-ros export`)")
        from ladon_ros.export.bundle import read_bundle_info
        from ladon_ros.export.onnx_camera import OnnxCameraEncoder
        if codec == 'ladon':
            return OnnxCameraEncoder(onnx_dir, threads=threads)
        return ImageCameraEncoder(codec, quality, read_bundle_info(onnx_dir)['input_size'])
    from ladon_ros.checkpoint import read_metadata
    if checkpoint is None:
        raise ValueError("backend='torch' needs a checkpoint")
    if codec == 'ladon':
        return LadonCameraEncoder.from_checkpoint(checkpoint, device)
    return ImageCameraEncoder(codec, quality, read_metadata(checkpoint).input_size)
