"""The transport-neutral form of one compressed frame (mirrors ``msg/LatentFrame.msg``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WireFrame:
    """One encoded camera frame as it crosses the link.

    Attributes:
        codec: ``'ladon'``, ``'raw'``, ``'jpeg'``, ``'png'`` or ``'webp'``.
        payload: Versioned bitstream (``ladon_ros.codec.bitstream``).
        image_size: (height, width) of the original camera image, pixels.
        latent_shape: (C, H, W) of the latent or of the encoded image.
        model_id: Registry name of the model that made it ('' for image codecs).
        weights_hash: First 16 hex digits of the weights' SHA-256 ('' for image codecs).
        rate_point: Training beta of the model, or the image codec's quality.
        encode_ms: Robot-side encode time, milliseconds.
    """

    codec: str
    payload: bytes
    image_size: tuple[int, int]
    latent_shape: tuple[int, ...]
    model_id: str = ''
    weights_hash: str = ''
    rate_point: float = 0.0
    encode_ms: float = 0.0
