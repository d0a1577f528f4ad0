"""Study metrics and the target comparisons on hand-made numbers."""
import math

import numpy as np
import pytest

from ladon_ros.eval.curve import at_metric
from ladon_ros.eval.metrics import ConfusionIoU, box_map, top1
from ladon_ros.eval.report import markdown, targets, to_rows
from ladon_ros.eval.study import ConfigResult


def test_top1():
    assert top1(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    with pytest.raises(ValueError):
        top1(np.array([]), np.array([]))


def test_miou():
    iou = ConfusionIoU(3)
    truth = np.array([[0, 0], [1, 1]])
    iou.add(np.array([[0, 1], [1, 1]]), truth)
    # class 0: inter 1, union 2; class 1: inter 2, union 3; class 2 absent (ignored)
    assert iou.miou() == pytest.approx((0.5 + 2 / 3) / 2)
    assert math.isnan(iou.per_class()[2])


def test_box_map_perfect_and_imperfect():
    gt = [(np.array([[10, 10, 50, 50], [60, 60, 90, 100]], np.float32), np.array([1, 2]))]
    perfect = [(gt[0][0], gt[0][1], np.array([0.9, 0.8]))]
    assert box_map(gt, perfect, 3) == {'map': pytest.approx(1.0), 'map50': pytest.approx(1.0)}
    wrong_class = [(gt[0][0], np.array([2, 1]), np.array([0.9, 0.8]))]
    assert box_map(gt, wrong_class, 3)['map50'] == 0.0
    shifted = [(gt[0][0] + np.array([4, 0, 4, 0], np.float32), gt[0][1], np.array([0.9, 0.8]))]
    m = box_map(gt, shifted, 3)
    assert m['map50'] == pytest.approx(1.0) and 0.2 < m['map'] < 0.9
    assert box_map(gt, [(np.zeros((0, 4)), np.zeros(0), np.zeros(0))], 3)['map'] == 0.0


def test_at_metric_interpolates_setting_linearly_and_bytes_in_log_bytes():
    curve = [(10, 100.0, 0.2), (50, 400.0, 0.6), (90, 1600.0, 0.8)]
    m = at_metric(curve, 0.4)
    assert m['how'] == 'interpolated' and m['bytes'] == pytest.approx(200.0)
    assert m['setting'] == pytest.approx(30.0) and m['bracket'] == [10, 50] and m['metric'] == 0.4
    assert at_metric(curve, 0.7)['bytes'] == pytest.approx(800.0)
    low = at_metric(curve, 0.1)
    assert (low['bytes'], low['how'], low['setting'], low['metric']) == (100.0, 'below_range', 10, 0.2)
    high = at_metric(curve, 0.9)
    assert (high['bytes'], high['how'], high['setting'], high['metric']) == (1600.0, 'above_range', 90, 0.8)
    # The first crossing from the cheap end, whatever order the settings come in.
    assert at_metric(list(reversed(curve)) + [(95, 2000.0, 0.3)], 0.4)['bracket'] == [10, 50]
    with pytest.raises(ValueError):
        at_metric([], 0.5)


def _results():
    return [
        ConfigResult('teacher', None, 50000.0, 0.9, 0.5, 0.8, 0.7),
        ConfigResult('ladon', 1.0, 400.0, 0.89, 0.47, 0.79, 0.69),
        ConfigResult('ladon', 4.0, 200.0, 0.88, 0.45, 0.75, 0.60),
        ConfigResult('ladon', 16.0, 100.0, 0.7, 0.3, 0.5, 0.5),
        ConfigResult('jpeg', 10, 1000.0, 0.5, 0.2, 0.4, 0.4),
        ConfigResult('jpeg', 50, 4000.0, 0.9, 0.5, 0.8, 0.7),
        ConfigResult('webp', 5, 250.0, 0.6, 0.3, 0.5, 0.5),
        ConfigResult('webp', 50, 1000.0, 0.9, 0.5, 0.8, 0.7),
    ]


def test_rows_have_the_issue_format():
    rows = to_rows(_results())
    assert set(rows) == {'classification', 'detection', 'segmentation'}
    for task, rs in rows.items():
        for r in rs:
            assert set(r) == {'codec', 'setting', 'bytes_per_frame', 'metric_name', 'metric'}
    assert {r['metric_name'] for r in rows['detection']} == {'mAP@[.5:.95]', 'mAP@.5'}
    assert len(rows['classification']) == 8


def test_targets_and_markdown():
    tgt = targets(_results())
    assert tgt['middle_rate_point'] == 4.0
    kr = tgt['keep_ratio']
    assert kr['classification']['ratio'] == pytest.approx(0.88 / 0.9) and kr['classification']['meets_0.95']
    assert not kr['segmentation']['meets_0.95']
    cls = tgt['bytes_vs_jpeg']['4.0']['classification']
    # JPEG reaches 0.88 at 0.95 of the way from 1000 to 4000 bytes in log space.
    assert cls['jpeg_how'] == 'interpolated'
    assert cls['jpeg_bytes'] == pytest.approx(math.exp(math.log(1000) + 0.95 * math.log(4)))
    assert tgt['one_stream']['three_single_task_streams_same_rate_bytes'] == 600.0
    # WebP is compared the same way, against its own target (<= 0.5).
    webp = tgt['bytes_vs_webp']['4.0']['classification']
    assert webp['webp_bytes'] == pytest.approx(math.exp(math.log(250) + (0.88 - 0.6) / 0.3 * math.log(4)))
    assert webp['ratio'] == pytest.approx(200.0 / webp['webp_bytes']) and webp['meets_0.5']
    # JPEG at its own target: beta 16's detection (0.3) needs 1000 * 4 ** (1 / 3) JPEG bytes -> 0.063.
    assert tgt['bytes_vs_jpeg']['16.0']['detection']['ratio'] == pytest.approx(100 / (1000 * 4 ** (1 / 3)))
    # The highest rate point (most bytes, beta 1) against the teacher, within 2 %.
    assert tgt['top_rate_point'] == 1.0
    assert tgt['top_keep']['classification']['ratio'] == pytest.approx(0.89 / 0.9)
    assert tgt['top_keep']['classification']['within_0.02'] and not tgt['top_keep']['detection']['within_0.02']
    md = markdown(_results(), tgt, command='ladon-ros eval --quick', scenes=10, seed=0)
    assert '| ladon | 4 |' in md and 'ladon-ros eval --quick' in md
    assert 'Ladon bytes / WebP bytes' in md and 'Ladon bytes / JPEG bytes' in md and 'Highest rate point' in md
