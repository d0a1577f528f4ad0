"""Message <-> core conversions and the debug-image drawing (no DDS, no processes)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ladon_ros.codec.wire import WireFrame
from ladon_ros.errors import FrameRejected
from ladon_ros.tasks import TaskClasses
from ladon_ros.results import Detection, FrameResults, Hypothesis
from ladon_ros.ros import conversions as cv
from ladon_ros.visualize import annotate, blend_mask, colorize_labels, label_palette

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)  # odd sizes on purpose


def _msg(enc: str, pixels: np.ndarray, pad: int = 0) -> Image:
    h, w = pixels.shape[:2]
    rows = pixels.reshape(h, -1)
    padded = np.concatenate([rows, np.full((h, pad), 77, np.uint8)], axis=1)
    m = Image(height=h, width=w, encoding=enc, step=padded.shape[1])
    m.data = padded.tobytes()
    return m


@pytest.mark.parametrize('pad', [0, 3])
def test_image_encodings_to_rgb(pad):
    assert np.array_equal(cv.image_to_rgb(_msg('rgb8', RGB, pad)), RGB)
    assert np.array_equal(cv.image_to_rgb(_msg('bgr8', RGB[..., ::-1].copy(), pad)), RGB)
    rgba = np.concatenate([RGB, np.full((7, 5, 1), 9, np.uint8)], axis=2)
    assert np.array_equal(cv.image_to_rgb(_msg('rgba8', rgba, pad)), RGB)
    assert np.array_equal(cv.image_to_rgb(_msg('bgra8', rgba[..., [2, 1, 0, 3]].copy(), pad)), RGB)
    gray = RGB[..., 0].copy()
    assert np.array_equal(cv.image_to_rgb(_msg('mono8', gray, pad)), np.repeat(gray[..., None], 3, axis=2))


def test_rgb_roundtrip_keeps_header():
    header = Header(frame_id='cam')
    header.stamp.sec, header.stamp.nanosec = 12, 34
    m = cv.rgb_to_image(RGB, header)
    assert (m.encoding, m.step, m.header.frame_id, m.header.stamp.nanosec) == ('rgb8', 15, 'cam', 34)
    assert np.array_equal(cv.image_to_rgb(m), RGB)


@pytest.mark.parametrize('change, match', [
    (dict(encoding='16UC1'), 'unsupported image encoding'),
    (dict(encoding='nv12'), 'unsupported image encoding'),  # 4:2:0; yuv422 is taken (test_sources)
    (dict(height=0), 'zero'),
    (dict(width=100000), 'zero or above'),
    (dict(step=4), 'step'),
    (dict(height=8), 'bytes'),
])
def test_bad_images_raise_clear_errors(change, match):
    m = _msg('rgb8', RGB)
    for k, v in change.items():
        setattr(m, k, v)
    with pytest.raises(FrameRejected, match=match) as err:  # a ValueError with a diagnostics reason
        cv.image_to_rgb(m)
    assert err.value.reason in ('unsupported_encoding', 'bad_image_size', 'bad_step', 'short_data')


def test_labels_image_is_mono8():
    labels = RNG.integers(0, 6, (4, 9), dtype=np.uint8)
    m = cv.labels_to_image(labels, Header())
    assert (m.encoding, m.width, m.height, m.step) == ('mono8', 9, 4, 9)
    assert np.array_equal(np.frombuffer(m.data, np.uint8).reshape(4, 9), labels)


def test_latent_roundtrip_and_field_checks():
    frame = WireFrame('ladon', bytes(range(256)) * 3, (480, 640), (12, 63, 63), 'ladon_small', 'ab' * 8, 1.28, 3.5)
    msg = cv.wire_to_latent(frame, Header(frame_id='cam'), 41)
    assert msg.sequence == 41 and msg.header.frame_id == 'cam'
    back = cv.latent_to_wire(msg)
    assert back.payload == frame.payload and back.latent_shape == frame.latent_shape
    assert back.image_size == (480, 640) and back.weights_hash == frame.weights_hash
    assert math.isclose(back.rate_point, 1.28, rel_tol=1e-6)
    msg.latent_shape = [1, 2, 3, 4]
    with pytest.raises(FrameRejected) as err:
        cv.latent_to_wire(msg)
    assert err.value.reason == 'bad_shape'


def _results() -> FrameResults:
    seg = np.zeros((40, 60), np.uint8)
    seg[10:20, 10:30] = 2
    det = Detection(Hypothesis(3, 'cone', 0.9), 20.0, 15.0, 20.0, 10.0)
    return FrameResults([Hypothesis(1, 'road', 0.7), Hypothesis(0, 'field', 0.2)], [det, det], seg)


def test_results_to_messages():
    r = _results()
    cls = cv.to_classification(r, Header(frame_id='cam'))
    assert [(h.class_id, round(h.score, 2)) for h in cls.results] == [('road', 0.7), ('field', 0.2)]
    dets = cv.to_detections(r, Header(frame_id='cam'), 17)
    assert [d.id for d in dets.detections] == ['17-0', '17-1']
    d = dets.detections[0]
    assert (d.results[0].class_id, d.bbox.center_x, d.bbox.size_y, d.header.frame_id) == ('cone', 20.0, 10.0, 'cam')
    info = cv.to_label_info(TaskClasses.generic(3, 4, 5), 'segmentation', Header(), 0.0)
    assert [(c.class_id, c.class_name) for c in info.class_map][:2] == [(0, 'background'), (1, 'region_1')]


def test_perception_results_hold_the_parts_of_one_frame():
    from ladon_ros.msg import FrameStats
    r, h = _results(), Header(frame_id='cam')
    h.stamp.sec = 12
    stats = FrameStats(header=h, sequence=17, codec='ladon', payload_bytes=501, served_by='base1')
    parts = cv.head_messages(r, ('classification', 'detection', 'segmentation'), h, 17)
    msg = cv.to_perception_results(parts, stats)
    assert msg.header == h and msg.stats == stats
    assert msg.classification == parts[0][1] and msg.detections == parts[1][1] and msg.segmentation == parts[2][1]
    assert cv.compressed_to_labels(msg.segmentation).shape == r.compact_segmentation().shape
    # A head not run leaves its part empty, with the frame's header (nothing to read, no stale result).
    only = cv.to_perception_results(cv.head_messages(r, ('classification',), h, 17), stats)
    assert only.classification.results and not only.detections.detections and not len(only.segmentation.data)
    assert only.detections.header == only.segmentation.header == h


def test_visualize():
    pal = label_palette()
    assert len({tuple(c) for c in pal}) == 256 and tuple(pal[0]) == (0, 0, 0)
    r = _results()
    colours = colorize_labels(r.segmentation)
    assert tuple(colours[15, 15]) == tuple(pal[2]) and tuple(colours[0, 0]) == (0, 0, 0)
    img = np.full((40, 60, 3), 100, np.uint8)
    blended = blend_mask(img, r.segmentation, 0.5)
    assert np.array_equal(blended[30:], img[30:])  # background untouched
    assert not np.array_equal(blended[15, 15], img[15, 15])
    out = annotate(img, r)
    assert out.shape == img.shape and not np.array_equal(out[5:25, 10], img[5:25, 10])  # box edge drawn
    with pytest.raises(ValueError):
        blend_mask(img, r.segmentation[:10])


def test_mask_outlines_use_the_brightened_class_colour():
    from ladon_ros.visualize import bright, outline_mask
    labels = np.zeros((30, 30), np.uint8)
    labels[10:20, 10:20] = 2
    img = outline_mask(np.zeros((30, 30, 3), np.uint8), labels)
    assert bright(label_palette()[2]) == (0, 255, 0)
    assert tuple(img[10, 15]) == (0, 255, 0) and tuple(img[15, 15]) == (0, 0, 0)  # edge drawn, inside not
    assert not img[:5].any()  # background untouched


def test_label_map_png_round_trip_is_lossless_and_small():
    from ladon_ros.ros.conversions import LABELS_PNG_FORMAT, compressed_to_labels, labels_to_compressed
    labels = np.zeros((480, 640), np.uint8)
    labels[100:300, 50:250] = 3
    labels[200:400, 300:600] = 17
    msg = labels_to_compressed(labels, Header(frame_id='cam'))
    assert msg.format == LABELS_PNG_FORMAT and msg.header.frame_id == 'cam'
    assert np.array_equal(compressed_to_labels(msg), labels)
    # Flat label regions: PNG level 9 is a few hundred bytes, not the 307,200 of mono8.
    assert len(msg.data) < 2000, len(msg.data)
