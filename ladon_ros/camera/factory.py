"""``make_camera_encoder``: the camera encoder a node, benchmark or test asks for by name."""
from __future__ import annotations

from pathlib import Path

from ladon_ros.camera.encoder import LadonCameraEncoder
from ladon_ros.camera.image import ImageCameraEncoder

BACKENDS = ('torch', 'onnx')


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
        onnx_dir: The exported folder (``backend='onnx'``); the package's own are found by
            ``ladon_ros.weights.shipped_camera_bundle``.
        threads: ONNX Runtime intra-op threads (``backend='onnx'``).
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'onnx':
        if onnx_dir is None:
            raise ValueError("backend='onnx' needs onnx_dir (a folder written by `ladon-ros export`)")
        if codec == 'ladon':
            return LadonCameraEncoder.from_bundle(onnx_dir, threads=threads)
        from ladon_ros.camera.bundle import read_bundle_info
        return ImageCameraEncoder(codec, quality, read_bundle_info(onnx_dir)['input_size'])
    if checkpoint is None:
        raise ValueError("backend='torch' needs a checkpoint")
    if codec == 'ladon':
        return LadonCameraEncoder.from_checkpoint(checkpoint, device)
    from ladon_ros.checkpoint import read_metadata
    return ImageCameraEncoder(codec, quality, read_metadata(checkpoint).input_size)
