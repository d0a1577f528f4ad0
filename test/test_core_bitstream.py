"""The versioned bitstream: round trip and strict parsing."""
import struct
import zlib

import pytest

from ladon_ros.codec import bitstream
from ladon_ros.codec.bitstream import HEADER_SIZE, BitstreamError, pack, parse

HASH = 'ab' * 32


def test_round_trip_keeps_every_field():
    payload = pack('ladon', (12, 63, 63), b'\x01\x02\x03', HASH)
    header, body = parse(payload)
    assert (header.codec, header.shape, body) == ('ladon', (12, 63, 63), b'\x01\x02\x03')
    assert header.weights_hash == bytes.fromhex(HASH[:16])
    assert len(payload) == HEADER_SIZE + 3


@pytest.mark.parametrize('mutate, reason', [
    (lambda p: p[:10], 'truncated'),
    (lambda p: p[:-1], 'truncated'),
    (lambda p: p + b'\x00', 'length_mismatch'),
    (lambda p: b'XXXX' + p[4:], 'bad_magic'),
    (lambda p: p[:4] + bytes([9]) + p[5:], 'unsupported_version'),
    (lambda p: p[:5] + bytes([77]) + p[6:], 'unknown_codec'),
    (lambda p: p[:6] + b'\x00\x01' + p[8:], 'bad_flags'),
    (lambda p: p[:8] + b'\x00\x00' + p[10:], 'bad_shape'),
    (lambda p: p[:-1] + bytes([p[-1] ^ 0xFF]), 'crc_mismatch'),
])
def test_malformed_payloads_are_rejected_with_a_reason(mutate, reason):
    payload = pack('ladon', (12, 63, 63), b'\x01\x02\x03\x04', HASH)
    with pytest.raises(BitstreamError) as err:
        parse(mutate(payload))
    assert err.value.reason == reason


def test_huge_declared_shape_is_rejected_before_allocation():
    body = b'\x00' * 4
    header = struct.pack('>4sBBHHHH8sII', bitstream.MAGIC, bitstream.BITSTREAM_VERSION, 1, 0,
                         1024, 8192, 8192, bytes(8), len(body), zlib.crc32(body))
    with pytest.raises(BitstreamError) as err:
        parse(header + body)
    assert err.value.reason == 'bad_shape'


def test_pack_refuses_unknown_codec_and_bad_hash():
    with pytest.raises(ValueError):
        pack('h264', (3, 8, 8), b'')
    with pytest.raises(ValueError):
        pack('ladon', (3, 8, 8), b'', 'not-hex')
