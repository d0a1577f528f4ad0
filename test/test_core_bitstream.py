"""The versioned bitstream: round trip and strict parsing."""
import struct
import zlib

import pytest

from ladon_ros.codec import bitstream
from ladon_ros.codec.latent import rans
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


def _header(version=bitstream.BITSTREAM_VERSION, codec_id=1, flags=0, c=12, h=63, w=63, body=b'\x01\x02',
            body_len=None, crc=None):
    return struct.pack('>4sBBHHHH8sII', bitstream.MAGIC, version, codec_id, flags, c, h, w, bytes(8),
                       len(body) if body_len is None else body_len,
                       zlib.crc32(body) if crc is None else crc) + body


@pytest.mark.parametrize('version', [0, 2, 255])
def test_only_the_current_version_is_read(version):
    with pytest.raises(BitstreamError) as err:
        parse(_header(version=version))
    assert err.value.reason == 'unsupported_version'
    assert parse(_header())[0].version == bitstream.BITSTREAM_VERSION


@pytest.mark.parametrize('codec_id', [0, 6, 255])
def test_unknown_codec_ids_are_refused(codec_id):
    with pytest.raises(BitstreamError) as err:
        parse(_header(codec_id=codec_id))
    assert err.value.reason == 'unknown_codec'


@pytest.mark.parametrize('name', sorted(bitstream.CODEC_IDS))
def test_every_codec_round_trips(name):
    header, body = parse(pack(name, (3, 4, 5), b'xyz'))
    assert (header.codec, header.shape, header.weights_hash, body) == (name, (3, 4, 5), bytes(8), b'xyz')


@pytest.mark.parametrize('c, h, w, ok', [
    (0, 63, 63, False), (12, 0, 63, False), (12, 63, 0, False),
    (1, 1, 1, True), (1024, 8, 8, True), (1025, 8, 8, False),
    (1, 8192, 8, True), (1, 8193, 8, False), (1, 8, 8192, True), (1, 8, 8193, False),
    (1, 8192, 8192, True),      # exactly MAX_ELEMENTS
    (2, 8192, 4097, False),     # one row of elements too many
])
def test_shape_bounds_are_inclusive_and_every_side_is_checked(c, h, w, ok):
    payload = _header(c=c, h=h, w=w)
    if ok:
        assert parse(payload)[0].shape == (c, h, w)
        assert parse(pack('raw', (c, h, w), b'\x01\x02'))[0].shape == (c, h, w)
    else:
        with pytest.raises(BitstreamError) as err:
            parse(payload)
        assert err.value.reason == 'bad_shape'
        with pytest.raises(ValueError):
            pack('raw', (c, h, w), b'')


def test_declared_body_above_max_body_is_refused_before_the_length_check():
    with pytest.raises(BitstreamError) as err:
        parse(_header(body=b'', body_len=bitstream.MAX_BODY + 1))
    assert err.value.reason == 'too_large'
    with pytest.raises(BitstreamError) as err:  # at the limit it is only short
        parse(_header(body=b'', body_len=bitstream.MAX_BODY))
    assert err.value.reason == 'truncated'


def test_pack_refuses_a_body_above_max_body():
    with pytest.raises(ValueError):
        pack('raw', (1, 1, 1), bytes(bitstream.MAX_BODY + 1))


def test_non_bytes_payloads_are_refused_with_a_reason():
    for payload in (None, 12, 'LDNB'):
        with pytest.raises(BitstreamError) as err:
            parse(payload)
        assert err.value.reason == 'bad_payload'
    assert parse(bytearray(pack('raw', (1, 1, 2), b'ab')))[1] == b'ab'
    assert parse(memoryview(pack('raw', (1, 1, 2), b'ab')))[1] == b'ab'


def test_header_only_payload_is_read_and_shorter_is_truncated():
    assert parse(pack('raw', (1, 1, 1), b''))[1] == b''
    with pytest.raises(BitstreamError) as err:
        parse(pack('raw', (1, 1, 1), b'')[:HEADER_SIZE - 1])
    assert err.value.reason == 'truncated'


def test_weights_hash_prefix():
    assert bitstream.hash_prefix('') == bytes(8)
    assert bitstream.hash_prefix('0123456789abcdef') == bytes.fromhex('0123456789abcdef')
    assert bitstream.hash_prefix(HASH) == bytes.fromhex(HASH[:16])
    for bad in ('0123456789abcde', 'zz' * 8):
        with pytest.raises(ValueError):
            bitstream.hash_prefix(bad)


def test_shape_must_have_three_dims():
    for shape in ((1, 2), (1, 2, 3, 4)):
        with pytest.raises(ValueError):
            pack('raw', shape, b'')


def test_ladon_body_limit_is_two_bytes_per_symbol_plus_64():
    rans.check_ladon_body(2 * 12 * 4 * 5 + 64, (12, 4, 5))
    with pytest.raises(BitstreamError) as err:
        rans.check_ladon_body(2 * 12 * 4 * 5 + 65, (12, 4, 5))
    assert err.value.reason == 'too_large'


def test_guard_padding_formula():
    assert rans.rans_guard_padding(0, 0) == 256
    assert rans.rans_guard_padding(10, 3) == 16 * 10 + 144 * 3 + 256


def test_pack_accepts_exactly_max_body():
    header, body = parse(pack('raw', (1, 1, 1), bytes(bitstream.MAX_BODY)))
    assert len(body) == bitstream.MAX_BODY


@pytest.mark.parametrize('call, message', [
    (lambda: pack('h264', (3, 8, 8), b''), "^unknown codec 'h264'; expected one of"),
    (lambda: pack('raw', (1, 1, 1), bytes(bitstream.MAX_BODY + 1)), f'^body of {bitstream.MAX_BODY + 1} bytes exceeds'),
    (lambda: pack('raw', (1, 2), b''), r'^shape must be \(C, H, W\), got \(1, 2\)'),
    (lambda: pack('raw', (0, 1, 1), b''), r'^shape \(0, 1, 1\) outside \(1..1024, 1..8192, 1..8192\)'),
    (lambda: pack('raw', (2, 8192, 8192), b''), r'^shape \(2, 8192, 8192\) has more than 67108864 elements'),
    (lambda: bitstream.hash_prefix('zz' * 8), "^weights hash must be hex, got 'zzzz"),
    (lambda: bitstream.hash_prefix('ab'), "^weights hash needs >= 16 hex digits, got 'ab'"),
])
def test_value_errors_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
