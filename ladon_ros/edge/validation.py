"""The checks every frame passes before its payload is touched, and the edge's size limits.

``check_fields`` checks the message fields (types, finite numbers, shapes); ``EdgeLimits``
holds the limits a frame's claims are held to. The bitstream header is checked by
``ladon_ros.codec.bitstream.parse``, the latent body by ``ladon_ros.codec.latent.decode``.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from ladon_ros.codec.wire import WireFrame
from ladon_ros.errors import FrameRejected

MAX_IMAGE_SIDE = 16384  # hard limit of ``max_image_side`` (pixels)
# A frame only claims its camera's size; the edge sizes its results by it. Bounding the
# claim bounds the work and the result bytes a frame can cost (a hostile 16384x16384 claim
# on a genuine 1.4 KB latent once took an edge to 5.4 GB and starved every other robot).
DEFAULT_MAX_IMAGE_SIDE = 4096  # pixels; larger claims are refused
DEFAULT_MAX_MASK_SIDE = 1920   # pixels; label maps of larger images are scaled down to fit
DEFAULT_DECODE_TIMEOUT_MS = 2000.0  # per-frame limit on validation + entropy/image decode


@dataclass(frozen=True)
class EdgeLimits:
    """What a frame may claim and cost.

    Attributes:
        decode_timeout_ms: A frame whose validation + decode took longer is refused.
        max_image_side: Frames claiming a larger camera image side are refused [px].
        max_mask_side: Label maps of larger images are scaled down to this side [px].
    """

    decode_timeout_ms: float = DEFAULT_DECODE_TIMEOUT_MS
    max_image_side: int = DEFAULT_MAX_IMAGE_SIDE
    max_mask_side: int = DEFAULT_MAX_MASK_SIDE

    def __post_init__(self):
        if not (math.isfinite(self.decode_timeout_ms) and self.decode_timeout_ms > 0):
            raise ValueError(f'decode_timeout_ms must be a positive number, got {self.decode_timeout_ms!r}')
        if not (0 < int(self.max_image_side) <= MAX_IMAGE_SIDE) or int(self.max_mask_side) <= 0:
            raise ValueError(f'max_image_side must be in 1..{MAX_IMAGE_SIDE} and max_mask_side positive, '
                             f'got {self.max_image_side}, {self.max_mask_side}')

    def check_image_size(self, h: int, w: int) -> None:
        """Raises ``FrameRejected('bad_image_size')`` for a claimed size outside the limit."""
        if not (0 < h <= self.max_image_side and 0 < w <= self.max_image_side):
            raise FrameRejected('bad_image_size', f'original image size {w}x{h} (limit {self.max_image_side} '
                                'per side: max_image_side)')

    def mask_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of the label map for an image: its size, scaled down to ``max_mask_side``."""
        h, w = image_size
        scale = min(1.0, self.max_mask_side / max(h, w))
        return max(1, round(h * scale)), max(1, round(w * scale))


def check_fields(frame: WireFrame) -> tuple[int, int]:
    """Type and range checks of the message fields; returns the original (height, width).

    Raises:
        FrameRejected: ``'bad_field'`` (wrong type, NaN/Inf, negative time), ``'bad_shape'``,
            ``'bad_image_size'``.
    """
    if not isinstance(frame.codec, str) or not isinstance(frame.model_id, str) \
            or not isinstance(frame.weights_hash, str):
        raise FrameRejected('bad_field', 'codec, model_id and weights_hash must be strings')
    if not isinstance(frame.payload, (bytes, bytearray, memoryview)):
        raise FrameRejected('bad_field', f'payload must be bytes, got {type(frame.payload).__name__}')
    for name in ('rate_point', 'encode_ms'):
        value = getattr(frame, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise FrameRejected('bad_field', f'{name} must be a finite number, got {value!r}')
    if frame.encode_ms < 0 or frame.rate_point < 0:
        raise FrameRejected('bad_field', f'negative rate_point/encode_ms ({frame.rate_point}, {frame.encode_ms})')
    try:
        if len(frame.latent_shape) != 3:  # before converting: the list may be huge
            raise FrameRejected('bad_shape', f'latent_shape has {len(frame.latent_shape)} dims, not (C, H, W)')
        h, w = (int(v) for v in frame.image_size)
        tuple(int(v) for v in frame.latent_shape)
    except (TypeError, ValueError, OverflowError) as err:
        if isinstance(err, FrameRejected):
            raise
        raise FrameRejected('bad_image_size', f'image_size {str(frame.image_size)[:40]} / latent_shape '
                            f'{str(frame.latent_shape)[:40]} are not integer tuples') from None
    return h, w
