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
from ladon_ros.ros.conversions import image_to_rgb

pytestmark = pytest.mark.ros
CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4}
UNSUPPORTED = ['16UC1', 'mono16', 'yuv422', 'bayer_rggb8', '32FC1', 'rgb16', '', 'jpeg', 'rgb8 ']
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
    enc = data.draw(st.one_of(st.sampled_from(sorted(CHANNELS)), st.sampled_from(UNSUPPORTED),
                              st.sampled_from(['RGB8', 'Bgr8'])))
    ch = CHANNELS.get(enc.lower(), 3)
    h = data.draw(st.one_of(st.integers(0, 24), st.sampled_from([16385, 2 ** 31])))
    w = data.draw(st.one_of(st.integers(0, 24), st.sampled_from([16385, 2 ** 31])))
    pad = data.draw(st.one_of(st.integers(-3, 9), st.sampled_from([2 ** 31])))
    step = max(0, w * ch + pad) if w < 16385 else data.draw(st.integers(0, 2 ** 32 - 1))
    rows = min(h, 24)
    pixels = np.random.default_rng(data.draw(st.integers(0, 99))).integers(
        0, 255, (rows, min(w, 24), ch), dtype=np.uint8)
    body = bytearray()
    if 0 < rows and 0 < w < 16385 and step < 2 ** 20:
        for r in range(rows):
            line = pixels[r].tobytes()[:step]
            body += line + bytes(max(0, step - len(line)))
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
    try:
        rgb = image_to_rgb(msg)
    except FrameRejected as err:
        assert isinstance(err, ValueError)
        OUTCOMES[err.reason] += 1
        return
    assert enc.lower() in CHANNELS and 0 < h <= 24 and 0 < w <= 24 and step >= w * ch
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8 and rgb.flags['C_CONTIGUOUS']
    assert np.array_equal(rgb, _expected(enc.lower(), pixels)), (enc, h, w, step, cut)
    OUTCOMES['converted'] += 1


def test_image_message_fuzz_report(capsys):
    total = sum(OUTCOMES.values())
    assert total >= 300 and OUTCOMES['converted'] > 0
    assert {'unsupported_encoding', 'bad_image_size', 'bad_step', 'short_data'} <= set(OUTCOMES)
    with capsys.disabled():
        print(f'\n[fuzz] camera Image messages: {total} cases, {OUTCOMES["converted"]} converted exactly '
              f'(padded steps included), refused {dict(sorted((k, v) for k, v in OUTCOMES.items() if k != "converted"))}')
