"""Input-compression baselines: raw, JPEG, PNG, WebP through OpenCV."""
from __future__ import annotations

import cv2
import numpy as np

from ladon_ros.errors import FrameRejected

IMAGE_CODECS = ('raw', 'jpeg', 'png', 'webp')
# Default quality per codec: JPEG/WebP 0..100 (higher = better), PNG compression 0..9.
DEFAULT_QUALITY = {'raw': 0, 'jpeg': 90, 'png': 3, 'webp': 90}
_EXT = {'jpeg': '.jpg', 'png': '.png', 'webp': '.webp'}
_PARAM = {'jpeg': cv2.IMWRITE_JPEG_QUALITY, 'png': cv2.IMWRITE_PNG_COMPRESSION, 'webp': cv2.IMWRITE_WEBP_QUALITY}


def check_quality(codec: str, quality: int) -> None:
    """Raises ``ValueError`` for a quality outside the codec's range."""
    if codec not in IMAGE_CODECS:
        raise ValueError(f'unknown image codec {codec!r}; expected one of {IMAGE_CODECS}')
    lo, hi = {'raw': (0, 0), 'jpeg': (1, 100), 'png': (0, 9), 'webp': (1, 100)}[codec]
    if codec != 'raw' and not lo <= quality <= hi:
        raise ValueError(f'{codec} quality must be in [{lo}, {hi}], got {quality}')


def encode_image(codec: str, rgb: np.ndarray, quality: int) -> bytes:
    """Encodes an (H, W, 3) uint8 RGB image.

    Args:
        codec: One of ``IMAGE_CODECS``.
        rgb: The image (already at the model's input size).
        quality: JPEG/WebP quality or PNG compression level (ignored for raw).

    Returns:
        The encoded bytes (raw: the RGB bytes, row-major).
    """
    check_quality(codec, quality)
    if codec == 'raw':
        return np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    ok, buf = cv2.imencode(_EXT[codec], cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [_PARAM[codec], int(quality)])
    if not ok:
        raise RuntimeError(f'OpenCV failed to encode {codec}')
    return buf.tobytes()


def decode_image(codec: str, body: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    """Decodes to (H, W, 3) uint8 RGB and checks it against the header's shape.

    Raises:
        FrameRejected: Undecodable bytes or a size that differs from ``shape``.
    """
    c, h, w = shape
    if c != 3:
        raise FrameRejected('bad_shape', f'image codecs carry 3 channels, header says {c}')
    if codec == 'raw':
        if len(body) != h * w * 3:
            raise FrameRejected('length_mismatch', f'raw body of {len(body)} bytes for {h}x{w}x3')
        return np.frombuffer(body, np.uint8).reshape(h, w, 3)
    if codec not in _EXT:
        raise FrameRejected('unknown_codec', f'{codec!r}')
    bgr = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameRejected('decode_failed', f'OpenCV could not decode the {codec} body')
    if bgr.shape[:2] != (h, w):
        raise FrameRejected('bad_shape', f'{codec} image is {bgr.shape[1]}x{bgr.shape[0]}, header says {w}x{h}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
