"""``LadonCameraEncoder``: camera image -> ``WireFrame``, the one pipeline of both back ends.

check -> resize to the model's input size -> latent (the back end: torch or ONNX) ->
exact quantisation -> rANS -> bitstream (``LatentCoder``). The back ends differ only in
how they compute the float latent; the coder settles their float32 differences, so both
send the same bytes for the same image.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import numpy as np

from ladon_ros.camera.identity import ModelIdentity
from ladon_ros.codec.latent.coder import LatentCoder
from ladon_ros.codec.preprocess import resize_rgb
from ladon_ros.codec.wire import WireFrame


def check_camera_image(rgb: np.ndarray) -> None:
    """Raises ``ValueError`` unless ``rgb`` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got {getattr(rgb, "shape", None)} '
                         f'{getattr(rgb, "dtype", type(rgb))}')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError('image has zero size')


class LatentBackend(Protocol):
    """What a back end provides: its model's identity and coder, and the float latent."""

    name: str
    identity: ModelIdentity
    coder: LatentCoder

    def latent(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) float32 latent of an (H, W, 3) uint8 image already at ``identity.input_size``."""


class LadonCameraEncoder:
    """The Ladon camera encoder over one back end (``TorchBackend`` or ``OnnxBackend``).

    Attributes:
        backend: The back end.
        identity: Its model (``ModelIdentity``), what every frame says it was coded with.
        coder: Quantise + entropy-code + pack.
    """

    codec = 'ladon'

    def __init__(self, backend: LatentBackend):
        self.backend = backend
        self.identity = backend.identity
        self.coder = backend.coder

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = 'cpu') -> 'LadonCameraEncoder':
        """Torch back end of a Ladon checkpoint (safetensors only)."""
        from ladon_ros.camera.torch_backend import TorchBackend
        return cls(TorchBackend.from_checkpoint(path, device))

    @classmethod
    def from_model(cls, model, meta, device: str = 'cpu') -> 'LadonCameraEncoder':
        """Torch back end of an already loaded model and its ``CheckpointMeta``."""
        from ladon_ros.camera.torch_backend import TorchBackend
        return cls(TorchBackend(model, meta, device))

    @classmethod
    def from_bundle(cls, bundle_dir: str | Path, *, threads: int = 1, int8: bool = False) -> 'LadonCameraEncoder':
        """ONNX back end of an exported bundle (torch is never imported)."""
        from ladon_ros.camera.onnx_backend import OnnxBackend
        return cls(OnnxBackend(bundle_dir, threads=threads, int8=int8))

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the image is resized to."""
        return self.identity.input_size

    @property
    def stats(self):
        """``QuantizeStats`` of the last frame (values settled exactly)."""
        return self.coder.stats

    def latent(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) float32 latent of an image already at ``input_size`` (the back end's)."""
        return self.backend.latent(small_rgb)

    def symbols(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) int32 latent symbols of an image already at ``input_size``."""
        return self.coder.symbols(self.latent(small_rgb), small_rgb)

    def encode(self, rgb: np.ndarray) -> WireFrame:
        """Encodes one (H, W, 3) uint8 RGB camera image."""
        check_camera_image(rgb)
        t0 = time.perf_counter()
        small = resize_rgb(rgb, self.input_size)
        payload, shape = self.coder.payload(self.latent(small), small)
        ident = self.identity
        return WireFrame('ladon', payload, rgb.shape[:2], shape, ident.model_id, ident.short_hash,
                         ident.rate_point, (time.perf_counter() - t0) * 1e3)
