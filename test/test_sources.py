"""Image sources (ladon_ros.sources) and the camera encodings image_to_rgb accepts.

Sources: the six files of a new user's folder (1280x720 JPEG, grayscale, RGBA, truncated
JPEG, 7x5, 16-bit), a video that fails mid-way, a camera that disappears and comes back.
Encodings: every one a camera driver publishes, against a known picture, and against the
PyPI cv_bridge port where that port can convert it.
"""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from ladon_ros.sources import MIN_SIDE, ImageRefused, ImageSource, to_rgb8
from ros_harness import ros_domain
from user_images import write_user_folder


def cfg(**kw) -> SimpleNamespace:
    base = dict(mode='synthetic', path='', camera_index=0, width=64, height=48, seed=0, loop=True)
    return SimpleNamespace(**{**base, **kw})


def test_to_rgb8_converts_or_refuses_with_a_reason():
    rgb, notes = to_rgb8(np.full((20, 20), 7, np.uint8))
    assert rgb.shape == (20, 20, 3) and notes == ['grayscale'] and (rgb == 7).all()
    rgb, notes = to_rgb8(np.full((20, 20, 4), (1, 2, 3, 4), np.uint8))
    assert notes == ['alpha_dropped'] and rgb[0, 0].tolist() == [3, 2, 1]
    rgb, notes = to_rgb8(np.full((20, 20, 3), (65535, 0, 257), np.uint16))
    assert notes == ['16bit_scaled'] and rgb[0, 0].tolist() == [1, 0, 255]
    for image, reason in ((np.zeros((5, 7, 3), np.uint8), 'too_small'),
                          (np.zeros((20, 20, 3), np.float32), 'unsupported_depth'),
                          (np.zeros((20, 20, 2), np.uint8), 'unsupported_channels')):
        with pytest.raises(ImageRefused) as err:
            to_rgb8(image)
        assert err.value.reason == reason
    assert MIN_SIDE > 7


def test_synthetic_frames_are_deterministic():
    a, b = ImageSource(cfg(seed=3)), ImageSource(cfg(seed=3))
    f1, f2 = a.next(), a.next()
    assert f1.shape == (48, 64, 3) and f1.dtype == np.uint8 and not np.array_equal(f1, f2)
    assert np.array_equal(b.next(), f1) and a.frames == 2


def test_synthetic_frames_cycle_renders_each_scene_once():
    """``synthetic_frames`` N: the first N scenes of the same seed, then the same N again, read-only."""
    every, cycle = ImageSource(cfg(seed=3)), ImageSource(cfg(seed=3, synthetic_frames=3))
    fresh = [every.next() for _ in range(4)]
    got = [cycle.next() for _ in range(7)]
    assert all(np.array_equal(g, f) for g, f in zip(got[:3], fresh[:3]))
    assert not np.array_equal(got[3], fresh[3]) and np.array_equal(got[3], got[0])
    assert got[6] is got[0] and len(cycle._cycle) == 3 and cycle.frames == 7
    with pytest.raises(ValueError):
        got[0][0, 0] = 0  # shared between frames: a consumer that draws on it fails loudly


def test_the_new_users_folder_streams_on_and_counts_what_it_skipped(tmp_path):
    expected = write_user_folder(tmp_path)
    src = ImageSource(cfg(mode='folder', path=str(tmp_path)))
    frames = [src.next() for _ in range(12)]  # three rounds of the four usable files
    assert all(f is not None for f in frames) and not src.ended
    assert frames[0].shape == (720, 1280, 3)
    assert np.array_equal(frames[1], expected['gray'])
    assert np.array_equal(frames[2], expected['rgba'])
    assert np.array_equal(frames[3], expected['16bit'])
    assert np.array_equal(frames[4], frames[0])
    assert dict(src.problems) == {'unreadable': 3, 'too_small': 3}
    assert dict(src.conversions) == {'grayscale': 6, 'alpha_dropped': 3, '16bit_scaled': 3}  # f_16bit is grey too
    texts = [e.text for e in src.events()]
    assert any('d_truncated.jpg' in t and 'skipped' in t for t in texts)
    assert any('e_tiny.png' in t and '7x5' in t for t in texts)
    assert src.events() == []  # handed over once


def test_folder_without_loop_ends_after_its_usable_files(tmp_path):
    write_user_folder(tmp_path)
    src = ImageSource(cfg(mode='folder', path=str(tmp_path), loop=False))
    assert [src.next() is not None for _ in range(5)] == [True] * 4 + [False]
    assert src.ended and src.state() == 'ended'
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images'):
        ImageSource(cfg(mode='folder', path=str(tmp_path / 'empty')))


def test_folder_keeps_trying_when_every_file_is_bad_and_picks_up_new_ones(tmp_path):
    (tmp_path / 'x.png').write_bytes(b'garbage')
    src = ImageSource(cfg(mode='folder', path=str(tmp_path)))
    assert src.next() is None and src.next() is None and not src.ended
    cv2.imwrite(str(tmp_path / 'y.png'), np.full((20, 20, 3), 9, np.uint8))
    assert src.next() is not None and src.problems['unreadable'] >= 2


def write_video(path, values) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 5, (32, 24))
    for v in values:
        w.write(np.full((24, 32, 3), v, np.uint8))
    w.release()


def test_video_frames_end_or_loop(tmp_path):
    path = tmp_path / 'clip.avi'
    write_video(path, (30, 120, 220))
    src = ImageSource(cfg(mode='video', path=str(path), loop=False))
    means = [src.next().mean() for _ in range(3)]
    assert means == sorted(means) and src.next() is None and src.ended
    src.close()
    looped = ImageSource(cfg(mode='video', path=str(path)))
    means = [looped.next().mean() for _ in range(7)]
    assert means[3] == pytest.approx(means[0], abs=2) and not looped.problems


def test_a_video_with_corrupt_frames_mid_way_streams_on(tmp_path):
    path = tmp_path / 'clip.avi'
    write_video(path, range(10, 250, 20))  # 12 frames, means 10, 30, ..., 230
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i:i + 2] == b'\xff\xd8']  # JPEG frames
    assert len(starts) == 12
    for k in (4, 5):
        data[starts[k]:starts[k] + 200] = bytes(200)  # frames 4 and 5 no longer decode
    path.write_bytes(bytes(data))
    src = ImageSource(cfg(mode='video', path=str(path)))
    got = [src.next() for _ in range(16)]
    means = [None if f is None else round(f.mean() / 10) * 10 for f in got]
    assert means == [10, 30, 50, 70, None, None, 130, 150, 170, 190, 210, 230, 10, 30, 50, 70], means
    assert src.problems['video_read_failed'] == 2 and not src.ended


class FakeCapture:
    """A ``cv2.VideoCapture`` stand-in: ``frames`` values, reads at ``bad`` indices fail."""

    def __init__(self, frames: int, bad=(), opened=True):
        self.frames, self.bad, self.opened, self.pos = frames, set(bad), opened, 0

    def isOpened(self):
        return self.opened

    def read(self):
        i = self.pos
        if i >= self.frames:
            return False, None
        self.pos += 1  # like OpenCV: a frame that does not decode is consumed too
        return (False, None) if i in self.bad else (True, np.full((24, 32, 3), i, np.uint8))

    def get(self, prop):
        return self.frames if prop == cv2.CAP_PROP_FRAME_COUNT else 0

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_POS_FRAMES:
            self.pos = int(value)

    def release(self):
        self.opened = False


def test_video_failing_mid_way_skips_the_bad_frame_and_reopens_at_its_end(tmp_path):
    opens = []

    def capture(path):
        opens.append(path)
        # The second open (the reopen at the end) fails once: retried after retry_s.
        return FakeCapture(8, bad={3}, opened=len(opens) != 2)

    now = [0.0]
    (tmp_path / 'v.avi').write_bytes(b'')
    src = ImageSource(cfg(mode='video', path=str(tmp_path / 'v.avi')), capture=capture,
                      clock=lambda: now[0], retry_s=1.0)
    got = []
    for _ in range(14):
        f = src.next()
        got.append(None if f is None else int(f[0, 0, 0]))
        now[0] += 0.6
    frames = [g for g in got if g is not None]
    assert got == [0, 1, 2, None, 4, 5, 6, 7, None, None, 0, 1, 2, None], got  # 3 skipped; reopen retried
    assert src.problems['video_read_failed'] == 2 and src.problems['video_reopen_failed'] == 1
    assert not src.ended and src.state() == 'streaming'


def test_camera_that_disappears_is_retried_until_it_is_back():
    plan = iter([FakeCapture(3), FakeCapture(0, opened=False), FakeCapture(0, opened=False), FakeCapture(100)])
    now = [0.0]
    src = ImageSource(cfg(mode='camera'), capture=lambda index: next(plan), clock=lambda: now[0], retry_s=1.0)
    got = []
    for _ in range(16):
        got.append(src.next() is not None)
        if not got[-1]:
            assert src.state() == 'retrying'
        now[0] += 0.5
    assert got[:3] == [True] * 3 and not any(got[3:7]) and all(got[-5:]), got
    reasons = [e.reason for e in src.events()]
    assert reasons[0] == 'camera_lost' and reasons.count('camera_unavailable') == 2 and reasons[-1] == 'camera_back'
    assert src.state() == 'streaming' and not src.ended


def test_camera_missing_at_start_is_not_fatal():
    src = ImageSource(cfg(mode='camera'), capture=lambda index: FakeCapture(0, opened=False), retry_s=0.0)
    assert src.next() is None and src.state() == 'retrying' and src.problems['camera_unavailable'] >= 1


# --- camera encodings (image_to_rgb) -------------------------------------------------------

def _picture(h=24, w=32) -> np.ndarray:
    """Four flat colour quadrants (flat: demosaicing and 4:2:2 chroma are exact inside)."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:h // 2, :w // 2] = (200, 30, 40)
    rgb[:h // 2, w // 2:] = (20, 180, 60)
    rgb[h // 2:, :w // 2] = (30, 50, 220)
    rgb[h // 2:, w // 2:] = (120, 120, 120)
    return rgb


def _bayer(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """The raw mosaic a sensor with ``pattern`` (e.g. 'rggb': R at (0, 0)) gives for ``rgb``."""
    raw = np.zeros(rgb.shape[:2], rgb.dtype)
    for k, colour in enumerate(pattern):
        dy, dx = divmod(k, 2)
        raw[dy::2, dx::2] = rgb[dy::2, dx::2, 'rgb'.index(colour)]
    return raw


def _yuv422(rgb: np.ndarray, order: str) -> np.ndarray:
    """Packed 4:2:2 bytes ('uyvy' or 'yuyv') of ``rgb`` as a camera makes them (BT.601, limited range)."""
    r, g, b = (rgb[..., i].astype(np.float64) / 255 for i in range(3))
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    pair = lambda c: (c[:, 0::2] + c[:, 1::2]) / 2  # noqa: E731 - one chroma sample per two pixels
    parts = {'y0': y[:, 0::2], 'y1': y[:, 1::2], 'u': pair(u), 'v': pair(v)}
    out = np.zeros((rgb.shape[0], rgb.shape[1] // 2, 4), np.uint8)
    for i, name in enumerate({'uyvy': ('u', 'y0', 'v', 'y1'), 'yuyv': ('y0', 'u', 'y1', 'v')}[order]):
        out[..., i] = np.clip(np.round(parts[name]), 0, 255)
    return out.reshape(rgb.shape[0], rgb.shape[1], 2)


def _message(array: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    from sensor_msgs.msg import Image
    h, w = array.shape[:2]
    if array.dtype == np.uint16:
        array = array.astype('>u2' if bigendian else '<u2')
    rows = array.reshape(h, -1).view(np.uint8)
    rows = np.hstack([rows, np.full((h, pad), 0xEE, np.uint8)])  # row padding must be ignored
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=int(bigendian), step=rows.shape[1])
    msg.data = rows.tobytes()
    return msg


def _encoded(rgb: np.ndarray) -> dict[str, tuple[np.ndarray, dict]]:
    """encoding -> (the array a driver would publish, message options)."""
    deep = rgb.astype(np.uint16) * 257
    out = {'rgb8': (rgb, {}), 'bgr8': (rgb[..., ::-1].copy(), {}), 'rgba8': (np.dstack([rgb, rgb[..., :1]]), {}),
           'bgra8': (np.dstack([rgb[..., ::-1], rgb[..., :1]]), {}),
           'rgb16': (deep, {}), 'bgr16': (deep[..., ::-1].copy(), {'bigendian': True}),
           'yuv422': (_yuv422(rgb, 'uyvy'), {'pad': 6}), 'uyvy': (_yuv422(rgb, 'uyvy'), {}),
           'yuv422_yuy2': (_yuv422(rgb, 'yuyv'), {'pad': 2}), 'yuyv': (_yuv422(rgb, 'yuyv'), {})}
    for pattern in ('rggb', 'bggr', 'gbrg', 'grbg'):
        out[f'bayer_{pattern}8'] = (_bayer(rgb, pattern), {'pad': 3})
        out[f'bayer_{pattern}16'] = (_bayer(deep, pattern), {'bigendian': pattern == 'gbrg'})
    return out


def test_every_supported_encoding_is_tested():
    from ladon_ros.ros.conversions import SUPPORTED_ENCODINGS
    assert set(SUPPORTED_ENCODINGS) == set(_encoded(_picture())) | {'mono8', 'mono16'}


@pytest.mark.parametrize('encoding', sorted(_encoded(_picture())))
def test_camera_encoding_gives_the_pictures_rgb(encoding):
    from ladon_ros.ros.conversions import image_to_rgb
    rgb = _picture()
    array, opts = _encoded(rgb)[encoding]
    got = image_to_rgb(_message(array, encoding, **opts))
    assert got.shape == rgb.shape and got.dtype == np.uint8
    inner = (slice(2, 10), slice(2, 14)), (slice(2, 10), slice(18, 30)), (slice(14, 22), slice(2, 14)), \
        (slice(14, 22), slice(18, 30))  # away from quadrant borders (demosaic / chroma blur)
    tol = 3 if encoding.startswith(('yuv', 'uyvy', 'yuyv')) else 0
    for ys, xs in inner:
        assert np.abs(got[ys, xs].astype(int) - rgb[ys, xs]).max() <= tol, encoding


@pytest.mark.parametrize('encoding', ['mono8', 'mono16'])
def test_mono_encodings_are_grey_rgb(encoding):
    from ladon_ros.ros.conversions import image_to_rgb
    grey = np.tile(np.arange(40, dtype=np.uint8) * 6, (20, 1))
    array = grey if encoding == 'mono8' else grey.astype(np.uint16) * 257
    got = image_to_rgb(_message(array, encoding, pad=4, bigendian=encoding == 'mono16'))
    assert np.array_equal(got, np.dstack([grey] * 3))


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8', 'bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8'])
def test_same_result_as_the_cv_bridge_port(encoding):
    """Where the PyPI cv_bridge port converts an encoding (packed rows), it agrees exactly."""
    from cv_bridge import CvBridge

    from ladon_ros.ros.conversions import image_to_rgb
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (24, 32, 3), np.uint8)
    array = {'mono8': rgb[..., 0].copy()}.get(encoding, None)
    if array is None:
        array = _encoded(rgb)[encoding][0]
    msg = _message(array, encoding)
    assert np.array_equal(image_to_rgb(msg), CvBridge().imgmsg_to_cv2(msg, desired_encoding='rgb8'))


def test_yuv422_with_an_odd_width_is_refused():
    from sensor_msgs.msg import Image

    from ladon_ros.errors import FrameRejected
    from ladon_ros.ros.conversions import image_to_rgb
    msg = Image(height=4, width=5, encoding='yuv422', step=10)
    msg.data = bytes(40)
    with pytest.raises(FrameRejected) as err:
        image_to_rgb(msg)
    assert err.value.reason == 'bad_image_size'


# --- the nodes ---------------------------------------------------------------------------------

@pytest.mark.ros
def test_camera_encoder_node_encodes_what_camera_drivers_publish(tmp_path, monkeypatch):
    import rclpy
    from rclpy.parameter import Parameter
    from std_msgs.msg import Header
    monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path))
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=ros_domain('sources_nodes'))
    try:
        from ladon_ros.ros.camera_encoder_node import CameraEncoderNode
        node = CameraEncoderNode(context=ctx, parameter_overrides=[Parameter('codec', value='jpeg')])
        sent = []
        node.pub.publish = sent.append
        msgs = [_message(a, enc, **o) for enc, (a, o) in _encoded(_picture()).items()]
        msgs.append(_message(_picture()[..., 0].copy(), 'mono8'))
        for m in msgs:
            m.header = Header(frame_id=m.encoding)
            node._on_image(m)
        assert not node.stats.rejected and [s.header.frame_id for s in sent] == [m.encoding for m in msgs]
        assert {(s.image_width, s.image_height) for s in sent} == {(32, 24)}
        node.close()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


@pytest.mark.ros
def test_image_source_node_reports_skipped_files_on_diagnostics(tmp_path):
    import rclpy
    from rclpy.parameter import Parameter
    write_user_folder(tmp_path)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=ros_domain('sources_nodes'))
    try:
        from ladon_ros.ros.image_source_node import ImageSourceNode
        node = ImageSourceNode(context=ctx, parameter_overrides=[
            Parameter('mode', value='folder'), Parameter('path', value=str(tmp_path))])
        sent, warnings = [], []
        node.pub.publish = sent.append
        node.log.logger = type('L', (), {'warning': lambda self, text: warnings.append(text)})()
        for _ in range(8):
            node._tick()
        assert len(sent) == 8 and node.timer.is_canceled() is False
        assert any('d_truncated.jpg' in w for w in warnings) and any('7x5' in w for w in warnings)
        assert len(warnings) == 2  # rate-limited: one per reason, the repeats counted
        status = node._statuses()[0]
        values = {kv.key: kv.value for kv in status.values}
        assert values['state'] == 'streaming' and values['frames_published'] == '8'
        assert values['problems.unreadable'] == '2' and values['problems.too_small'] == '2'
        assert status.level == status.WARN and 'streaming' in status.message
        node.close()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
