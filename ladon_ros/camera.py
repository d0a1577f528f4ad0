"""Camera (robot) side: camera image -> ``WireFrame``. No ROS here.

``LadonCameraEncoder`` runs the tiny encoder + entropy coder; ``ImageCameraEncoder``
runs one of the image baselines. Both resize to the model's input size first, so the
baselines and Ladon see the same pixels.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ladon_ros.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, read_metadata
from ladon_ros.codec import bitstream
from ladon_ros.codec.image_codecs import IMAGE_CODECS, check_quality, encode_image
from ladon_ros.codec.preprocess import resize_rgb, to_tensor
from ladon_ros.codec.wire import WireFrame


def check_camera_image(rgb: np.ndarray) -> None:
    """Raises ``ValueError`` unless ``rgb`` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got {getattr(rgb, "shape", None)} '
                         f'{getattr(rgb, "dtype", type(rgb))}')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError('image has zero size')


class LadonCameraEncoder:
    """Encoder + entropy coder of a Ladon checkpoint (torch backend)."""

    codec = 'ladon'

    def __init__(self, model, meta: CheckpointMeta, device: str = 'cpu'):
        if meta.kind != 'ladon':
            raise CheckpointError(f'{meta.model_id!r} is a {meta.kind}, the camera side needs a ladon checkpoint')
        self.meta = meta
        self.device = torch.device(device)
        self.robot = model.robot_side().to(self.device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = 'cpu') -> 'LadonCameraEncoder':
        """Loads a Ladon checkpoint (safetensors only)."""
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
        x = to_tensor(resize_rgb(rgb, self.input_size), self.meta.mean, self.meta.std).to(self.device)
        out = self.robot.compress(x)
        shape = (self.robot.bottleneck.bottleneck_channels, *out['shape'])
        payload = bitstream.pack('ladon', shape, out['strings'][0][0], self.meta.weights_hash)
        return WireFrame('ladon', payload, rgb.shape[:2], shape, self.meta.model_id, self.meta.short_hash,
                         self.meta.rate_point, (time.perf_counter() - t0) * 1e3)


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


def make_camera_encoder(*, codec: str, checkpoint: str | Path, quality: int = 90, device: str = 'cpu'):
    """Builds the camera-side encoder for ``codec``.

    Args:
        codec: ``'ladon'`` or an image codec.
        checkpoint: The Ladon checkpoint (for image codecs only its input size is read).
        quality: Image codec quality.
        device: Torch device of the Ladon encoder.
    """
    if codec == 'ladon':
        return LadonCameraEncoder.from_checkpoint(checkpoint, device)
    return ImageCameraEncoder(codec, quality, read_metadata(checkpoint).input_size)
