"""Input-compression baselines: raw, JPEG, PNG, WebP through OpenCV.

Received image bodies are untrusted: ``declared_size`` reads the width and height that a
PNG/JPEG/WebP header claims, and ``decode_image`` refuses a size other than the one the
bitstream header announced before ``cv2.imdecode`` allocates anything (decompression bombs),
and refuses bytes that are not the announced format (OpenCV would decode any format it knows).
"""
from __future__ import annotations

import struct

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
    # An encoded image larger than 2x its raw pixels (+64 KiB of headers) is not what an
    # encoder writes (noise at JPEG q100: 0.66x, PNG level 0: 1.003x); refusing it bounds the
    # decoder's work (e.g. a progressive JPEG made of thousands of scans).
    limit = 2 * h * w * 3 + 65536
    if len(body) > limit:
        raise FrameRejected('too_large', f'{codec} body of {len(body)} bytes for {w}x{h} (limit {limit})')
    dh, dw = declared_size(codec, body)
    if (dh, dw) != (h, w):
        raise FrameRejected('bad_shape', f'{codec} header declares {dw}x{dh}, bitstream says {w}x{h}')
    bgr = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameRejected('decode_failed', f'OpenCV could not decode the {codec} body')
    if bgr.shape[:2] != (h, w):
        raise FrameRejected('bad_shape', f'{codec} image is {bgr.shape[1]}x{bgr.shape[0]}, header says {w}x{h}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG frame types OpenCV's libjpeg decodes with Huffman coding: baseline, extended, progressive.
_JPEG_SOF = {0xC0, 0xC1, 0xC2}
# A progressive JPEG has ~10 scans; thousands of tiny scans make libjpeg revisit every
# coefficient per scan (CPU exhaustion), so more than this is refused before decoding.
MAX_JPEG_SCANS = 64
_JPEG_OTHER_SOF = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def declared_size(codec: str, body: bytes) -> tuple[int, int]:
    """(height, width) that a PNG, JPEG or WebP body declares in its header, without decoding.

    Raises:
        FrameRejected: ``'bad_image_header'`` when the bytes are not a well-formed header of
            ``codec``; ``'unsupported_image'`` for JPEG frame types other than Huffman
            baseline/extended/progressive.
    """
    try:
        if codec == 'png':
            return _png_size(body)
        if codec == 'jpeg':
            return _jpeg_size(body)
        if codec == 'webp':
            return _webp_size(body)
    except (struct.error, IndexError):
        raise FrameRejected('bad_image_header', f'{codec} header is truncated') from None
    raise FrameRejected('unknown_codec', f'{codec!r} has no header to read')


def _png_size(body: bytes) -> tuple[int, int]:
    # Signature, then the IHDR chunk must come first: length 13, 'IHDR', width, height (u32 BE).
    if body[:8] != _PNG_SIGNATURE or body[12:16] != b'IHDR':
        raise FrameRejected('bad_image_header', 'not a PNG (signature/IHDR)')
    w, h = struct.unpack_from('>II', body, 16)
    return h, w


def _jpeg_size(body: bytes) -> tuple[int, int]:
    # Walk the marker segments from SOI up to the first start-of-frame (which precedes any scan).
    if body[:2] != b'\xff\xd8':
        raise FrameRejected('bad_image_header', 'not a JPEG (no SOI marker)')
    i = 2
    while True:
        if body[i] != 0xFF:
            raise FrameRejected('bad_image_header', f'JPEG marker expected at byte {i}')
        marker = body[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0xD9, 0xDA) or 0xD0 <= marker <= 0xD7:
            raise FrameRejected('bad_image_header', f'JPEG marker {marker:#x} before the frame header')
        (length,) = struct.unpack_from('>H', body, i + 2)
        if length < 2:
            raise FrameRejected('bad_image_header', f'JPEG segment length {length}')
        if marker in _JPEG_SOF:
            h, w = struct.unpack_from('>HH', body, i + 5)
            scans = _jpeg_scan_count(body, i + 2 + length)
            if scans > MAX_JPEG_SCANS:
                raise FrameRejected('unsupported_image', f'JPEG with {scans} scans (limit {MAX_JPEG_SCANS})')
            return h, w
        if marker in _JPEG_OTHER_SOF:
            raise FrameRejected('unsupported_image', f'JPEG frame type {marker:#x} is not served')
        i += 2 + length


def _jpeg_scan_count(body: bytes, i: int) -> int:
    """Start-of-scan markers from byte ``i`` on, skipping entropy-coded data (0xFF00 stuffing, RSTn)."""
    scans = 0
    while True:
        i = body.find(b'\xff', i)
        if i < 0 or i + 1 >= len(body):
            return scans
        marker = body[i + 1]
        if marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                return scans
        if marker == 0xD9:
            return scans
        i += 2


def _webp_size(body: bytes) -> tuple[int, int]:
    if body[:4] != b'RIFF' or body[8:12] != b'WEBP':
        raise FrameRejected('bad_image_header', 'not a WebP (RIFF/WEBP)')
    chunk = body[12:16]
    if chunk == b'VP8 ':
        # Lossy: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
        if body[23:26] != b'\x9d\x01\x2a':
            raise FrameRejected('bad_image_header', 'WebP VP8 start code missing')
        w, h = struct.unpack_from('<HH', body, 26)
        return h & 0x3FFF, w & 0x3FFF
    if chunk == b'VP8L':
        # Lossless: signature 0x2f, then width-1 and height-1 in 14 bits each (little-endian bits).
        if body[20] != 0x2F:
            raise FrameRejected('bad_image_header', 'WebP VP8L signature missing')
        (bits,) = struct.unpack_from('<I', body, 21)
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b'VP8X':
        # Extended: 4 bytes of flags, then canvas width-1 and height-1 as 24-bit little-endian.
        flags = body[20]
        if flags & 0x02:
            raise FrameRejected('unsupported_image', 'animated WebP is not served')
        w = int.from_bytes(body[24:27], 'little') + 1
        h = int.from_bytes(body[27:30], 'little') + 1
        if len(body) < 30:
            raise FrameRejected('bad_image_header', 'WebP VP8X header is truncated')
        return h, w
    raise FrameRejected('bad_image_header', f'WebP chunk {chunk!r} is not VP8/VP8L/VP8X')
