"""The versioned, strictly parsed payload carried in ``LatentFrame.data``.

Layout (big-endian), ``HEADER_SIZE`` bytes then ``body_len`` bytes of body::

    magic     4s   b'LDNB'
    version   u8   BITSTREAM_VERSION
    codec     u8   CODEC_IDS[codec]
    flags     u16  reserved, must be 0
    channels  u16  latent C (ladon) or image channels (image codecs)
    height    u16  latent / image height
    width     u16  latent / image width
    weights   8s   first 8 bytes of the weights' SHA-256 (zeros for image codecs)
    body_len  u32  body length in bytes
    crc32     u32  zlib.crc32 of the body: corruption on the link is caught before
                   the entropy decoder ever sees the bytes

Every field is checked before anything is allocated from it.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ladon_ros.errors import FrameRejected

MAGIC = b'LDNB'
BITSTREAM_VERSION = 1
CODEC_IDS = {'ladon': 1, 'raw': 2, 'jpeg': 3, 'png': 4, 'webp': 5}
CODEC_NAMES = {v: k for k, v in CODEC_IDS.items()}
_HEADER = struct.Struct('>4sBBHHHH8sII')
HEADER_SIZE = _HEADER.size
# Limits that keep a hostile header from asking for gigabytes.
MAX_DIM = 8192
MAX_CHANNELS = 1024
MAX_ELEMENTS = 64 * 1024 * 1024
MAX_BODY = 64 * 1024 * 1024


class BitstreamError(FrameRejected):
    """A payload whose bytes must be rejected (``reason`` names why)."""


@dataclass(frozen=True)
class BitstreamHeader:
    """Parsed header fields (see module docstring)."""

    codec: str
    shape: tuple[int, int, int]
    weights_hash: bytes
    version: int = BITSTREAM_VERSION


def hash_prefix(weights_hash_hex: str) -> bytes:
    """8 raw bytes of a hex SHA-256 digest (zeros for '')."""
    if not weights_hash_hex:
        return bytes(8)
    try:
        raw = bytes.fromhex(weights_hash_hex[:16])
    except ValueError as err:
        raise ValueError(f'weights hash must be hex, got {weights_hash_hex!r}') from err
    if len(raw) != 8:
        raise ValueError(f'weights hash needs >= 16 hex digits, got {weights_hash_hex!r}')
    return raw


def pack(codec: str, shape: tuple[int, int, int], body: bytes, weights_hash_hex: str = '') -> bytes:
    """Builds a payload.

    Args:
        codec: One of ``CODEC_IDS``.
        shape: (channels, height, width) of the latent or image.
        body: Entropy-coded latent or encoded image bytes.
        weights_hash_hex: Hex SHA-256 of the weights (ladon), '' for image codecs.

    Returns:
        Header + body.
    """
    if codec not in CODEC_IDS:
        raise ValueError(f'unknown codec {codec!r}; expected one of {sorted(CODEC_IDS)}')
    _check_shape(shape)
    if len(body) > MAX_BODY:
        raise ValueError(f'body of {len(body)} bytes exceeds {MAX_BODY}')
    c, h, w = shape
    header = _HEADER.pack(MAGIC, BITSTREAM_VERSION, CODEC_IDS[codec], 0, c, h, w,
                          hash_prefix(weights_hash_hex), len(body), zlib.crc32(body))
    return header + bytes(body)


def parse(payload: bytes | bytearray | memoryview) -> tuple[BitstreamHeader, bytes]:
    """Parses and validates a payload; raises ``BitstreamError`` with a reason.

    The header is read in place and every field (including ``body_len`` against
    ``MAX_BODY``) is checked before the body is copied.

    Args:
        payload: Header + body as received.

    Returns:
        The header and the body bytes.
    """
    try:
        view = memoryview(payload).cast('B')
    except TypeError:
        raise BitstreamError('bad_payload', f'payload must be bytes-like, got {type(payload).__name__}') from None
    if len(view) < HEADER_SIZE:
        raise BitstreamError('truncated', f'{len(view)} bytes is shorter than the {HEADER_SIZE}-byte header')
    magic, version, codec_id, flags, c, h, w, weights, body_len, crc = _HEADER.unpack_from(view)
    if magic != MAGIC:
        raise BitstreamError('bad_magic', f'magic {magic!r} is not {MAGIC!r}')
    if version != BITSTREAM_VERSION:
        raise BitstreamError('unsupported_version', f'bitstream version {version}, this build reads {BITSTREAM_VERSION}')
    if codec_id not in CODEC_NAMES:
        raise BitstreamError('unknown_codec', f'codec id {codec_id}')
    if flags != 0:
        raise BitstreamError('bad_flags', f'reserved flags {flags:#x} are not 0')
    try:
        _check_shape((c, h, w))
    except ValueError as err:
        raise BitstreamError('bad_shape', str(err)) from None
    if body_len > MAX_BODY:
        raise BitstreamError('too_large', f'header says {body_len} body bytes, limit {MAX_BODY}')
    if len(view) != HEADER_SIZE + body_len:
        kind = 'truncated' if len(view) < HEADER_SIZE + body_len else 'length_mismatch'
        raise BitstreamError(kind, f'header says {body_len} body bytes, got {len(view) - HEADER_SIZE}')
    body = view[HEADER_SIZE:].tobytes()
    if zlib.crc32(body) != crc:
        raise BitstreamError('crc_mismatch', 'body checksum does not match (corrupted on the link?)')
    return BitstreamHeader(CODEC_NAMES[codec_id], (c, h, w), weights, version), body


def _check_shape(shape) -> None:
    if len(shape) != 3:
        raise ValueError(f'shape must be (C, H, W), got {shape!r}')
    c, h, w = (int(s) for s in shape)
    if not (0 < c <= MAX_CHANNELS and 0 < h <= MAX_DIM and 0 < w <= MAX_DIM):
        raise ValueError(f'shape {shape!r} outside (1..{MAX_CHANNELS}, 1..{MAX_DIM}, 1..{MAX_DIM})')
    if c * h * w > MAX_ELEMENTS:
        raise ValueError(f'shape {shape!r} has more than {MAX_ELEMENTS} elements')
