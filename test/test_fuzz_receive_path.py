"""Property-based fuzzing of the whole edge receive path (no ROS).

WireFrame -> ``EdgePerception.prepare`` -> ``bitstream.parse`` -> rANS / image decode ->
tensor -> ``infer``. Every case must either be served or raise ``FrameRejected`` with a known
reason; any other exception, a crash or a hang fails. Valid-CRC garbage is built on purpose
so it reaches CompressAI's C++ rANS decoder. The counts per reason are printed.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import statistics
import time
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ladon_ros.camera import check_camera_image, make_camera_encoder
from ladon_ros.checkpoint import load_checkpoint
from ladon_ros.codec import bitstream, image_codecs
from ladon_ros.codec.latent import rans
from ladon_ros.codec.bitstream import HEADER_SIZE
from ladon_ros.edge import EdgePerception
from ladon_ros.errors import FrameRejected

KNOWN_REASONS = {
    'truncated', 'length_mismatch', 'bad_magic', 'unsupported_version', 'unknown_codec', 'bad_flags',
    'bad_shape', 'crc_mismatch', 'too_large', 'bad_payload', 'codec_mismatch', 'weights_mismatch',
    'model_mismatch', 'bad_image_size', 'bad_field', 'bad_symbols', 'decode_failed', 'no_teacher',
    'bad_image_header', 'unsupported_image', 'decode_timeout', 'bad_encoding',
}
def fuzz(n: int) -> settings:
    """Deterministic hypothesis settings for ``n`` cases (same corpus on every run)."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
IMAGE = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)


class Tally:
    """Outcome counts of one fuzz property (printed at the end of the test)."""

    def __init__(self, name: str):
        self.name, self.served, self.inferred = name, 0, 0
        self.rejected: collections.Counter = collections.Counter()

    def run(self, edge: EdgePerception, frame, infer: bool = False):
        try:
            prepared = edge.prepare(frame)
        except FrameRejected as err:
            assert err.reason in KNOWN_REASONS, err
            self.rejected[err.reason] += 1
            return None
        self.served += 1
        assert torch.isfinite(prepared.tensor).all()
        if infer:
            result = edge.infer([prepared])[0]
            assert result.segmentation.shape == tuple(prepared.image_size)
            self.inferred += 1
        return prepared

    @property
    def cases(self) -> int:
        return self.served + sum(self.rejected.values())

    def report(self, capsys) -> None:
        with capsys.disabled():
            print(f'\n[fuzz] {self.name}: {self.cases} cases, {self.served} served '
                  f'({self.inferred} through infer), rejected {dict(sorted(self.rejected.items()))}, '
                  'no crash, no other exception')


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    import os
    torch.set_num_threads(1)
    cache = tmp_path_factory.mktemp('cache')
    old = os.environ.get('LADON_ROS_CACHE')
    os.environ['LADON_ROS_CACHE'] = str(cache)
    try:
        from ladon_ros.weights import random_checkpoint
        ladon, teacher, foreign = (random_checkpoint('ladon_small'), random_checkpoint('teacher_small'),
                                   random_checkpoint('ladon_small', seed=1))
    finally:
        if old is None:
            os.environ.pop('LADON_ROS_CACHE')
        else:
            os.environ['LADON_ROS_CACHE'] = old
    edge = EdgePerception.from_checkpoints([ladon], teacher)
    good = make_camera_encoder(codec='ladon', checkpoint=ladon).encode(IMAGE)
    images = {c: make_camera_encoder(codec=c, checkpoint=ladon, quality=q).encode(IMAGE)
              for c, q in (('raw', 0), ('jpeg', 80), ('png', 3), ('webp', 80))}
    foreign_frame = make_camera_encoder(codec='ladon', checkpoint=foreign).encode(IMAGE)
    reference = edge.process(good)
    return dict(edge=edge, good=good, images=images, foreign=foreign_frame, reference=reference,
                ladon_path=ladon)


def _tally(world, key: str, prop, capsys):
    """The tally a fuzz property filled; runs the property first when it has not run in this
    session (the report run alone, or before it in a random order): same deterministic corpus."""
    if key not in world:
        prop(world=world, capsys=capsys)
    return world[key]


def _with_body(frame, body: bytes, shape=None, codec=None):
    """The frame with ``body`` under a freshly packed header: valid CRC, so it reaches the decoder."""
    header, _ = bitstream.parse(frame.payload)
    shape = shape or header.shape
    payload = bitstream.pack(codec or header.codec, shape, body, frame.weights_hash)
    return dataclasses.replace(frame, payload=payload, latent_shape=shape)


def _raw_header(codec_id, flags, c, h, w, weights, body, version=bitstream.BITSTREAM_VERSION, body_len=None):
    return struct.pack('>4sBBHHHH8sII', bitstream.MAGIC, version, codec_id, flags, c, h, w, weights,
                       len(body) if body_len is None else body_len, zlib.crc32(body)) + body


def _peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM) since the last ``_reset_peak_rss``, KiB."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))


def _reset_peak_rss() -> int:
    """Resets the peak to the current resident set (Linux >= 4.0) and returns it, KiB.

    ``ru_maxrss`` is the peak since the process started: after the models are loaded, an
    allocation smaller than that earlier peak would not show at all.
    """
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return _peak_rss_kib()


def _still_serves(world) -> None:
    result = world['edge'].process(world['good'])
    ref = world['reference']
    assert [h.class_index for h in result.classification] == [h.class_index for h in ref.classification]
    assert np.array_equal(result.segmentation, ref.segmentation)


# --- mutated payloads: truncated, extended, bit-flipped, random --------------------------------

@fuzz(200)
@given(data=st.data())
def test_mutated_ladon_payloads_are_rejected_with_a_reason(world, capsys, data):
    tally = world.setdefault('t_mut', Tally('mutated ladon payloads (truncate/extend/bit-flip/random)'))
    payload = world['good'].payload
    kind = data.draw(st.sampled_from(['truncate', 'extend', 'flip', 'random', 'splice']))
    if kind == 'truncate':
        mutated = payload[:data.draw(st.integers(0, len(payload) - 1))]
    elif kind == 'extend':
        mutated = payload + data.draw(st.binary(min_size=1, max_size=512))
    elif kind == 'flip':
        buf = bytearray(payload)
        for pos in data.draw(st.lists(st.integers(0, 8 * len(buf) - 1), min_size=1, max_size=8, unique=True)):
            buf[pos // 8] ^= 1 << (pos % 8)
        mutated = bytes(buf)
    elif kind == 'random':
        mutated = data.draw(st.binary(min_size=0, max_size=4096))
    else:  # a valid header in front of a foreign body
        mutated = payload[:HEADER_SIZE] + data.draw(st.binary(min_size=0, max_size=2048))
    out = tally.run(world['edge'], dataclasses.replace(world['good'], payload=mutated))
    if out is not None:
        assert mutated == payload, 'only the untouched payload may be served'


def test_mutated_ladon_payloads_report(world, capsys):
    tally = _tally(world, 't_mut', test_mutated_ladon_payloads_are_rejected_with_a_reason, capsys)
    assert tally.cases >= 200 and sum(tally.rejected.values()) >= 190
    tally.report(capsys)
    _still_serves(world)


# --- valid CRC over garbage: reaches the C++ rANS decoder -------------------------------------

@fuzz(200)
@given(data=st.data())
def test_valid_crc_garbage_reaches_the_entropy_decoder_safely(world, capsys, data):
    tally = world.setdefault('t_rans', Tally('valid-CRC garbage into the rANS decoder'))
    c, h, w = world['good'].latent_shape
    n = c * h * w
    kind = data.draw(st.sampled_from(['random', 'escapes', 'mixed', 'limit', 'bit_flip']))
    if kind == 'random':
        body = data.draw(st.binary(min_size=0, max_size=3000))
    elif kind == 'escapes':  # all-ones words: bypass escapes that make the decoder read far ahead
        body = b'\xff' * data.draw(st.integers(0, 2 * n + 64))
    elif kind == 'mixed':
        body = data.draw(st.binary(max_size=64)) + b'\xff' * data.draw(st.integers(0, 4096)) \
            + data.draw(st.binary(max_size=64))
    elif kind == 'limit':  # around the per-symbol body limit
        body = b'\xf7' * (2 * n + 64 + data.draw(st.integers(-4, 4)))
    else:
        _, good_body = bitstream.parse(world['good'].payload)
        buf = bytearray(good_body)
        for pos in data.draw(st.lists(st.integers(0, 8 * len(buf) - 1), min_size=1, max_size=16)):
            buf[pos // 8] ^= 1 << (pos % 8)
        body = bytes(buf)
    frame = _with_body(world['good'], body)
    tally.run(world['edge'], frame, infer=tally.inferred < 6)


def test_valid_crc_garbage_report(world, capsys):
    tally = _tally(world, 't_rans', test_valid_crc_garbage_reaches_the_entropy_decoder_safely, capsys)
    assert tally.cases >= 200
    assert tally.rejected['too_large'] > 0 and tally.rejected['bad_symbols'] > 0
    tally.report(capsys)
    _still_serves(world)


def test_guard_padding_keeps_every_rans_read_inside_the_string(world, capsys):
    """Measures how far past the body CompressAI's decoder reads, and that padding covers it.

    Bytes past the body are zeros up to offset k and 0x11 after it (0x11 never forms an escape
    nibble, so the probe itself cannot make the decoder run away). The smallest k from which
    the decode no longer changes is how far the decoder read.
    """
    model, meta = load_checkpoint(world['ladon_path'])
    eb = model.bottleneck.entropy_bottleneck
    c, h, w = world['good'].latent_shape
    n = c * h * w

    def decode(s):
        return eb.decompress([s], [h, w])

    lines = []
    for name, body in (('all-ones x64', b'\xff' * 64), ('all-ones x4096', b'\xff' * 4096),
                       ('random x2048', np.random.default_rng(3).bytes(2048)),
                       ('valid', bitstream.parse(world['good'].payload)[1])):
        pad = rans.rans_guard_padding(len(body), n)
        ref = decode(body + bytes(pad))
        lo, hi = 0, pad
        while lo < hi:
            mid = (lo + hi) // 2
            if torch.equal(ref, decode(body + bytes(mid) + b'\x11' * (pad - mid + 8))):
                hi = mid
            else:
                lo = mid + 1
        assert lo <= pad
        lines.append(f'{name}: {len(body)} B body, decoder read {lo} B past it, guard padding {pad} B')
        if name == 'valid':
            assert lo == 0, 'a valid stream must never read past its end'
        if name == 'all-ones x4096':
            assert lo > len(body), 'the overread this padding guards against'
    with capsys.disabled():
        print('\n[fuzz] rANS overread: ' + '; '.join(lines))


def _median_ms(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _prepare_or_reason(edge, frame):
    try:
        edge.prepare(frame)
        return None
    except FrameRejected as err:
        return err.reason


def test_worst_case_garbage_decode_time_is_bounded(world, capsys):
    """The largest garbage body still decoded costs a bounded multiple of a valid frame's decode;
    anything larger is refused before decoding, in far less time than one decode."""
    edge, good = world['edge'], world['good']
    c, h, w = good.latent_shape
    limit = rans.MAX_LADON_BYTES_PER_SYMBOL * c * h * w + 64
    valid_ms = _median_ms(lambda: edge.prepare(good))
    worst = _with_body(good, b'\xff' * limit)
    assert _prepare_or_reason(edge, worst) in (None, 'bad_symbols', 'bad_encoding')  # decoded, then judged
    worst_ms = _median_ms(lambda: _prepare_or_reason(edge, worst))
    larger = _with_body(good, b'\xff' * (10 * limit))
    assert _prepare_or_reason(edge, larger) == 'too_large'
    larger_ms = _median_ms(lambda: _prepare_or_reason(edge, larger))
    with capsys.disabled():
        print(f'\n[fuzz] worst-case accepted-size garbage ({limit} B): {worst_ms:.1f} ms to judge, valid frame '
              f'{valid_ms:.1f} ms, 10x larger refused in {larger_ms:.2f} ms (limit {edge.decode_timeout_ms:.0f} ms)')
    # Medians on a loaded 2-core machine: generous factors, still far below an unbounded decode.
    assert worst_ms < min(20 * valid_ms + 50, edge.decode_timeout_ms)
    assert larger_ms < valid_ms


def test_decode_time_limit_refuses_a_late_frame(world):
    """Limits set from the decode time measured here, far from it on each side: a frame that took
    longer is refused and one that did not is served (so a limit off by x1000 either way fails)."""
    loaded = [load_checkpoint(world['ladon_path'])]
    good = world['good']
    decode_ms = statistics.median(world['edge'].prepare(good).decode_ms for _ in range(5))
    strict = EdgePerception(loaded, decode_timeout_ms=decode_ms / 50)
    with pytest.raises(FrameRejected) as err:
        strict.prepare(good)
    assert err.value.reason == 'decode_timeout'
    generous = EdgePerception(loaded, decode_timeout_ms=50 * decode_ms + 200)
    assert generous.prepare(good).decode_ms < 50 * decode_ms + 200
    with pytest.raises(ValueError):
        EdgePerception(loaded, decode_timeout_ms=float('nan'))


# --- header fields with a valid CRC -----------------------------------------------------------

@fuzz(200)
@given(codec_id=st.one_of(st.integers(1, 5), st.integers(0, 255)),
       version=st.sampled_from([1] * 8 + [0, 2, 255]),
       flags=st.one_of(st.just(0), st.just(0), st.just(0), st.integers(0, 65535)),
       c=st.one_of(st.integers(0, 65535), st.sampled_from([0, 1, 3, 12, 1024, 1025])),
       h=st.one_of(st.integers(0, 65535), st.sampled_from([0, 1, 31, 8192, 8193])),
       w=st.one_of(st.integers(0, 65535), st.sampled_from([0, 1, 31, 8192, 8193])),
       body=st.binary(max_size=256), len_delta=st.sampled_from([0, 0, 0, 1, -1, 2 ** 31]))
def test_absurd_header_fields_are_rejected_before_allocation(world, capsys, codec_id, version, flags, c, h, w,
                                                              body, len_delta):
    tally = world.setdefault('t_hdr', Tally('header fields (codec id, version, flags, C/H/W up to 65535, length)'))
    header, _ = bitstream.parse(world['good'].payload)
    payload = _raw_header(codec_id, flags, c, h, w, header.weights_hash, body, version,
                          body_len=max(0, min(2 ** 32 - 1, len(body) + len_delta)))
    codec = bitstream.CODEC_NAMES.get(codec_id, 'ladon')
    frame = dataclasses.replace(world['good'], payload=payload, codec=codec, latent_shape=(c, h, w))
    before = _reset_peak_rss()
    assert tally.run(world['edge'], frame) is None
    assert _peak_rss_kib() - before < 50_000  # KiB: nothing near the size the header claims was allocated


def test_absurd_header_fields_report(world, capsys):
    tally = _tally(world, 't_hdr', test_absurd_header_fields_are_rejected_before_allocation, capsys)
    assert tally.cases >= 200 and tally.served == 0
    tally.report(capsys)


# --- message fields: NaN/Inf, negative/huge sizes, wrong strings, foreign weights --------------

_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, -1.0]),
                    st.just('1.0'), st.none())
_ints = st.one_of(st.integers(-2 ** 40, 2 ** 40), st.floats(allow_nan=True, allow_infinity=True), st.none())


@fuzz(200)
@given(data=st.data())
def test_message_fields_are_validated(world, capsys, data):
    tally = world.setdefault('t_msg', Tally('message fields (NaN/Inf floats, sizes, strings, hashes, shapes)'))
    good = world['good']
    field = data.draw(st.sampled_from(['rate_point', 'encode_ms', 'image_size', 'latent_shape', 'codec',
                                       'model_id', 'weights_hash', 'payload']))
    if field in ('rate_point', 'encode_ms'):
        value = data.draw(_floats)
    elif field == 'image_size':
        value = data.draw(st.one_of(st.tuples(_ints, _ints), st.lists(st.integers(-5, 5), max_size=4), st.none()))
    elif field == 'latent_shape':
        value = data.draw(st.one_of(st.lists(st.integers(-2 ** 31, 2 ** 31), max_size=5).map(tuple), st.none()))
    elif field in ('codec', 'model_id', 'weights_hash'):
        value = data.draw(st.one_of(st.text(max_size=40), st.sampled_from(['ladon', 'jpeg', 'raw', 'ladon_small']),
                                    st.none(), st.integers()))
    else:
        value = data.draw(st.one_of(st.none(), st.text(max_size=10), st.integers(), st.lists(st.integers(0, 255))))
    frame = dataclasses.replace(good, **{field: value})
    out = tally.run(world['edge'], frame)
    # Served exactly when the value is one the edge can honestly serve (and then as given).
    assert (out is not None) == _servable(world, field, value), (field, value)
    if out is not None and field == 'image_size':
        assert out.image_size == tuple(int(v) for v in value)


def _servable(world, field: str, value) -> bool:
    """Whether the good frame with ``field`` set to ``value`` must be served."""
    good, edge = world['good'], world['edge']
    if field in ('rate_point', 'encode_ms'):
        return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and value >= 0)
    if field == 'image_size':
        try:
            h, w = (int(v) for v in value)
        except (TypeError, ValueError, OverflowError):
            return False
        return 0 < h <= edge.max_image_side and 0 < w <= edge.max_image_side
    if field == 'latent_shape':
        return value is not None and tuple(value) == tuple(good.latent_shape)
    if field in ('codec', 'model_id', 'weights_hash'):
        return value == getattr(good, field)
    return False  # payload: none of the drawn values is the frame's bytes


def test_message_fields_report(world, capsys):
    tally = _tally(world, 't_msg', test_message_fields_are_validated, capsys)
    assert tally.cases >= 200 and tally.rejected["bad_field"] > 0
    tally.report(capsys)
    edge = world['edge']
    for bad in (dict(rate_point=math.nan), dict(encode_ms=math.inf), dict(encode_ms=-1.0)):
        with pytest.raises(FrameRejected) as err:
            edge.prepare(dataclasses.replace(world['good'], **bad))
        assert err.value.reason == 'bad_field'
    with pytest.raises(FrameRejected) as err:
        edge.prepare(world['foreign'])
    assert err.value.reason == 'weights_mismatch'
    with pytest.raises(FrameRejected) as err:
        edge.prepare(dataclasses.replace(world['good'], model_id='ladon_resnet50'))
    assert err.value.reason == 'model_mismatch'
    _still_serves(world)


# --- image codec bodies: mutations and decompression bombs -------------------------------------

@fuzz(200)
@given(data=st.data())
def test_mutated_image_bodies_are_served_or_rejected(world, capsys, data):
    tally = world.setdefault('t_img', Tally('image bodies (raw/jpeg/png/webp: flips, truncation, random)'))
    codec = data.draw(st.sampled_from(['raw', 'jpeg', 'png', 'webp']))
    frame = world['images'][codec]
    _, body = bitstream.parse(frame.payload)
    kind = data.draw(st.sampled_from(['flip', 'truncate', 'random', 'header_flip']))
    buf = bytearray(body)
    if kind == 'flip':
        for pos in data.draw(st.lists(st.integers(0, 8 * len(buf) - 1), min_size=1, max_size=8)):
            buf[pos // 8] ^= 1 << (pos % 8)
    elif kind == 'header_flip':
        for pos in data.draw(st.lists(st.integers(0, 8 * min(len(buf), 64) - 1), min_size=1, max_size=4)):
            buf[pos // 8] ^= 1 << (pos % 8)
    elif kind == 'truncate':
        buf = buf[:data.draw(st.integers(0, len(buf) - 1))]
    else:
        buf = bytearray(data.draw(st.binary(max_size=2048)))
    tally.run(world['edge'], _with_body(frame, bytes(buf)), infer=tally.inferred < 4)


def test_mutated_image_bodies_report(world, capsys):
    tally = _tally(world, 't_img', test_mutated_image_bodies_are_served_or_rejected, capsys)
    assert tally.cases >= 200 and sum(tally.rejected.values()) > 0
    tally.report(capsys)
    _still_serves(world)


def _png_header(w, h):
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + struct.pack('>I', 13) + b'IHDR' + ihdr + struct.pack('>I', zlib.crc32(b'IHDR' + ihdr))


def _png_bomb(w, h):
    """A real PNG: IHDR w x h grey, one IDAT of deflated zero rows (tiny file, huge image)."""
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = bytes(w + 1)
    idat = b''.join(comp.compress(row) for _ in range(h)) + comp.flush()

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + chunk(b'IEND', b'')


def _jpeg_header(w, h, sof=0xC0):
    app0 = b'\xff\xe0' + struct.pack('>H', 16) + b'JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00'
    sof_seg = bytes([0xFF, sof]) + struct.pack('>HBHHB', 17, 8, h, w, 3) + b'\x01\x11\x00\x02\x11\x01\x03\x11\x01'
    return b'\xff\xd8' + app0 + sof_seg + b'\xff\xda' + b'\x00' * 64


def _webp_vp8x(w, h, flags=0):
    data = bytes([flags, 0, 0, 0]) + (w - 1).to_bytes(3, 'little') + (h - 1).to_bytes(3, 'little')
    return b'RIFF' + struct.pack('<I', 4 + 8 + len(data)) + b'WEBP' + b'VP8X' + struct.pack('<I', len(data)) + data


def _webp_vp8(w, h):
    data = b'\x00\x00\x00' + b'\x9d\x01\x2a' + struct.pack('<HH', w, h) + b'\x00' * 16
    return b'RIFF' + struct.pack('<I', 4 + 8 + len(data)) + b'WEBP' + b'VP8 ' + struct.pack('<I', len(data)) + data


@pytest.mark.parametrize('codec, body, reason', [
    ('png', _png_header(65535, 65535) + b'\x00' * 64, 'bad_shape'),
    ('png', _png_header(2 ** 31 - 1, 1), 'bad_shape'),
    ('jpeg', _jpeg_header(65500, 65500), 'bad_shape'),
    ('jpeg', _jpeg_header(128, 96, sof=0xC3), 'unsupported_image'),  # lossless JPEG
    ('webp', _webp_vp8x(16384, 16384), 'bad_shape'),
    ('webp', _webp_vp8x(128, 96, flags=0x02), 'unsupported_image'),  # animation
    ('webp', _webp_vp8(16383, 16383), 'bad_shape'),
    ('png', _jpeg_header(128, 96), 'bad_image_header'),  # a JPEG sent as PNG
    ('jpeg', b'GIF89a' + b'\x00' * 32, 'bad_image_header'),
    ('webp', b'RIFF\x00\x00\x00\x00WEBPVP9 ', 'bad_image_header'),
])
def test_decompression_bombs_are_refused_before_imdecode(world, monkeypatch, codec, body, reason):
    def never(*args, **kwargs):
        raise AssertionError('cv2.imdecode must not see this body')
    monkeypatch.setattr(image_codecs.cv2, 'imdecode', never)
    frame = world['images'][codec]
    with pytest.raises(FrameRejected) as err:
        world['edge'].prepare(_with_body(frame, body))
    assert err.value.reason == reason, err.value


def test_oversized_image_body_is_refused_before_decoding(world, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError('cv2.imdecode must not see this body')
    monkeypatch.setattr(image_codecs.cv2, 'imdecode', never)
    frame = world['images']['jpeg']
    _, body = bitstream.parse(frame.payload)
    _, h, w = frame.latent_shape
    padded = body + b'\xff\xfe' + bytes(2 * h * w * 3 + 65536)  # a giant trailing segment
    with pytest.raises(FrameRejected) as err:
        world['edge'].prepare(_with_body(frame, padded))
    assert err.value.reason == 'too_large'


def test_jpeg_with_thousands_of_scans_is_refused_before_decoding(world, monkeypatch):
    import cv2
    frame = world['images']['jpeg']
    _, h, w = frame.latent_shape
    rgb = np.random.default_rng(4).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode('.jpg', rgb, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    prog = buf.tobytes()
    assert image_codecs.declared_size('jpeg', prog) == (h, w)  # a normal progressive JPEG is fine
    tiny_scan = b'\xff\xda' + struct.pack('>HBBBBBB', 8, 1, 1, 0x00, 1, 1, 0x00) + b'\x00'  # 1 AC coefficient
    many = prog[:-2] + tiny_scan * 2000 + b'\xff\xd9'  # 22 KB: within the size limit

    def never(*args, **kwargs):
        raise AssertionError('cv2.imdecode must not see this body')
    monkeypatch.setattr(image_codecs.cv2, 'imdecode', never)
    with pytest.raises(FrameRejected) as err:
        world['edge'].prepare(_with_body(frame, many))
    assert err.value.reason == 'unsupported_image' and 'scans' in err.value.detail


def test_real_png_bomb_is_refused_without_allocating(world, capsys):
    bomb = _png_bomb(8192, 8192)  # 64 MiB of pixels once decoded (192 MiB as BGR), a ~65 KB file
    frame = world['images']['png']
    before = _reset_peak_rss()
    with pytest.raises(FrameRejected) as err:
        world['edge'].prepare(_with_body(frame, bomb))
    grown_mib = (_peak_rss_kib() - before) / 1024
    assert err.value.reason == 'bad_shape' and grown_mib < 64
    with capsys.disabled():
        print(f'\n[fuzz] PNG bomb: {len(bomb)} B file declaring 8192x8192 refused, peak RSS grew {grown_mib:.1f} MiB')


# --- camera side -----------------------------------------------------------------------------

@fuzz(60)
@given(data=st.data())
def test_camera_side_refuses_or_encodes_odd_images(world, capsys, data):
    tally = world.setdefault('t_cam', collections.Counter())
    kind = data.draw(st.sampled_from(['dtype', 'ndim', 'channels', 'zero', 'strided', 'not_array']))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    base = rng.integers(0, 255, (data.draw(st.integers(1, 64)), data.draw(st.integers(1, 64)), 3), dtype=np.uint8)
    if kind == 'dtype':
        img = base.astype(data.draw(st.sampled_from([np.float32, np.uint16, np.int8, np.float64, bool])))
    elif kind == 'ndim':
        img = base[..., 0] if data.draw(st.booleans()) else base[None]
    elif kind == 'channels':
        img = np.concatenate([base, base], axis=2)[..., :data.draw(st.sampled_from([1, 2, 4, 5]))]
    elif kind == 'zero':
        img = base[:0] if data.draw(st.booleans()) else base[:, :0]
    elif kind == 'strided':  # views with odd, negative or padded strides
        step_y, step_x = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
        img = base[::step_y, ::step_x]
        if data.draw(st.booleans()):
            img = img[::-1, ::-1]
        if data.draw(st.booleans()):
            padded = np.zeros((img.shape[0], img.shape[1] + 1, 3), np.uint8)
            padded[:, :img.shape[1]] = img
            img = padded[:, :img.shape[1]]
    else:
        img = data.draw(st.sampled_from([None, b'\x00' * 12, [[1, 2, 3]], 'rgb8']))
    valid = kind == 'strided'
    encoder = world.setdefault('cam_enc', make_camera_encoder(codec='ladon', checkpoint=world['ladon_path']))
    if valid:
        check_camera_image(img)
        frame = encoder.encode(img)
        assert world['edge'].prepare(frame).image_size == img.shape[:2]
        tally['encoded'] += 1
    else:
        with pytest.raises(ValueError):
            encoder.encode(img)
        tally['refused'] += 1


def test_camera_side_report(world, capsys):
    tally = _tally(world, 't_cam', test_camera_side_refuses_or_encodes_odd_images, capsys)
    assert tally['encoded'] > 0 and tally['refused'] > 0
    with capsys.disabled():
        print(f'\n[fuzz] camera images: {sum(tally.values())} cases, {tally["encoded"]} odd-stride views encoded '
              f'and served, {tally["refused"]} refused with ValueError (dtype/ndim/channels/zero size/not an array)')
