"""Fuzzing the camera side's message path: ``sensor_msgs/Image`` -> ``image_to_rgb`` (black box).

Encodings supported or not, zero/absurd sizes, row strides (``step``) with padding, too
short or too long data. Every case either gives exactly the expected RGB pixels or raises
``ValueError`` (``FrameRejected``) with a reason; counts are printed.
"""
from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import Image

from ladon_ros.errors import FrameRejected
from ladon_ros.ros.conversions import SUPPORTED_ENCODINGS, image_to_rgb

pytestmark = pytest.mark.ros
CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4}
# Encodings image_to_rgb does not take (whatever the converter supports is left out).
UNSUPPORTED = [e for e in ['16UC1', '32FC1', '8UC3', 'mono12', 'yuv420', 'nv12', '', 'jpeg', 'rgb8 ']
               if e.lower() not in SUPPORTED_ENCODINGS]
OUTCOMES: collections.Counter = collections.Counter()


def _expected(enc: str, pixels: np.ndarray) -> np.ndarray:
    if enc in ('rgb8', 'rgba8'):
        return pixels[..., :3]
    if enc in ('bgr8', 'bgra8'):
        return pixels[..., [2, 1, 0]]
    return np.repeat(pixels, 3, axis=2)  # mono8


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_image_messages_are_converted_exactly_or_refused(data):
    # Weighted towards messages that pass the early checks, so every later rule is reached often.
    enc = data.draw(st.one_of(st.sampled_from(sorted(CHANNELS)), st.sampled_from(sorted(CHANNELS)),
                              st.sampled_from(UNSUPPORTED), st.sampled_from(['RGB8', 'Bgr8'])))
    ch = CHANNELS.get(enc.lower(), 3)
    h = data.draw(st.one_of(st.integers(1, 24), st.integers(0, 24), st.sampled_from([16385, 2 ** 31])))
    w = data.draw(st.one_of(st.integers(1, 24), st.integers(0, 24), st.sampled_from([16385, 2 ** 31])))
    pad = data.draw(st.one_of(st.integers(-3, 9), st.sampled_from([2 ** 31])))
    step = max(0, w * ch + pad) if w < 16385 else data.draw(st.integers(0, 2 ** 32 - 1))
    rows = min(h, 24)
    pixels = np.random.default_rng(data.draw(st.integers(0, 99))).integers(
        0, 255, (rows, min(w, 24), ch), dtype=np.uint8)
    body = bytearray()
    if 0 < rows and 0 < w < 16385:
        for r in range(rows):
            if step >= 2 ** 20 and r < rows - 1:
                break  # a huge step is never built row by row: the data stays short
            line = pixels[r].tobytes()[:step]
            body += line + (bytes(max(0, step - len(line))) if step < 2 ** 20 else b'')
    body = bytes(body)
    cut = data.draw(st.sampled_from(['exact', 'exact', 'short', 'long', 'no_last_pad']))
    if cut == 'short' and body:
        body = body[:-data.draw(st.integers(1, len(body)))]
    elif cut == 'long':
        body += bytes(data.draw(st.integers(1, 64)))
    elif cut == 'no_last_pad' and body and step > w * ch:
        body = body[:len(body) - (step - w * ch)]  # the last row need not carry its padding
    msg = Image(height=h, width=w, encoding=enc, is_bigendian=0, step=step)
    msg.data = body
    expected = _expected_reason(enc, h, w, step, len(body))
    if expected is not None:
        with pytest.raises(FrameRejected) as err:
            image_to_rgb(msg)
        assert isinstance(err.value, ValueError)
        assert err.value.reason == expected, (enc, h, w, step, len(body), cut)
        OUTCOMES[expected] += 1
        return
    # Valid by construction: it must be converted, exactly.
    rgb = image_to_rgb(msg)
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8 and rgb.flags['C_CONTIGUOUS']
    assert np.array_equal(rgb, _expected(enc.lower(), pixels)), (enc, h, w, step, cut)
    OUTCOMES['converted'] += 1
    OUTCOMES['converted_no_last_pad'] += cut == 'no_last_pad' and step > w * ch


def _expected_reason(enc: str, h: int, w: int, step: int, size: int) -> str | None:
    """What ``image_to_rgb`` must say of this message (None: it must convert it)."""
    ch = CHANNELS.get(enc.lower())
    if ch is None:
        return 'unsupported_encoding'
    if not (0 < h <= 16384 and 0 < w <= 16384):
        return 'bad_image_size'
    if step < w * ch:
        return 'bad_step'
    if size < step * (h - 1) + w * ch:  # the last row need not carry its padding
        return 'short_data'
    return None


@pytest.mark.parametrize('enc', sorted(CHANNELS))
@pytest.mark.parametrize('h, w, pad', [(1, 1, 0), (1, 5, 3), (4, 3, 1), (7, 16384 // 4, 5), (16384, 1, 0)])
def test_valid_images_are_converted_exactly(enc, h, w, pad):
    """Built valid on purpose (including a last row without its padding, and the largest side)."""
    ch = CHANNELS[enc]
    step = w * ch + pad
    pixels = np.random.default_rng(h * w + pad).integers(0, 255, (h, w, ch), dtype=np.uint8)
    rows = [pixels[r].tobytes() + bytes(pad) for r in range(h)]
    for body in (b''.join(rows), b''.join(rows)[:step * h - pad]):
        msg = Image(height=h, width=w, encoding=enc, is_bigendian=0, step=step)
        msg.data = body
        rgb = image_to_rgb(msg)
        assert rgb.shape == (h, w, 3) and rgb.flags['C_CONTIGUOUS']
        assert np.array_equal(rgb, _expected(enc, pixels))
    # One byte less than the last row's pixels is short.
    msg.data = b''.join(rows)[:step * h - pad - 1]
    with pytest.raises(FrameRejected) as err:
        image_to_rgb(msg)
    assert err.value.reason == 'short_data'


@pytest.mark.parametrize('h, w', [(16385, 1), (1, 16385), (0, 1), (1, 0)])
def test_sides_out_of_range_are_refused(h, w):
    msg = Image(height=h, width=w, encoding='mono8', is_bigendian=0, step=w)
    msg.data = bytes(16)
    with pytest.raises(FrameRejected) as err:
        image_to_rgb(msg)
    assert err.value.reason == 'bad_image_size'


def test_image_message_fuzz_report(capsys):
    if not OUTCOMES:  # run alone or before the property: run it here (same deterministic corpus)
        test_image_messages_are_converted_exactly_or_refused()
    total = sum(v for k, v in OUTCOMES.items() if k != 'converted_no_last_pad')
    assert total >= 300 and OUTCOMES['converted'] > 0 and OUTCOMES['converted_no_last_pad'] > 0
    assert {'unsupported_encoding', 'bad_image_size', 'bad_step', 'short_data'} <= set(OUTCOMES)
    with capsys.disabled():
        print(f'\n[fuzz] camera Image messages: {total} cases, {OUTCOMES["converted"]} converted exactly '
              f'(padded steps included), refused {dict(sorted((k, v) for k, v in OUTCOMES.items() if not k.startswith("converted")))}')
