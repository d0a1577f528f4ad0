"""Published results' geometry against known head outputs: boxes scaled to the original image,
``min_score``, ``top_k``, class names and the label map size (``to_frame_results``, no model)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ladon_ros.models.ladon import TaskOutputs
from ladon_ros.models.spec import TaskClasses
from ladon_ros.results import Detection, FrameResults, Hypothesis, to_frame_results

CLASSES = TaskClasses(classification=('beach', 'city', 'forest', 'office', 'road', 'snow'),
                      detection=('background', 'car', 'person', 'bike'),
                      segmentation=('background', 'car', 'person', 'bike'))
INPUT = (100, 200)  # (height, width) the model ran at


def _outputs(batch: int = 2) -> TaskOutputs:
    probs = torch.tensor([[0.05, 0.40, 0.10, 0.25, 0.15, 0.05],
                          [0.70, 0.02, 0.08, 0.05, 0.10, 0.05]])[:batch]
    det = [
        # item 0: three boxes in input pixels (x1, y1, x2, y2), best first
        {'boxes': torch.tensor([[10.0, 20.0, 50.0, 60.0], [100.0, 0.0, 200.0, 100.0], [0.0, 0.0, 20.0, 10.0]]),
         'labels': torch.tensor([2, 1, 3]), 'scores': torch.tensor([0.9, 0.5, 0.2])},
        # item 1: one box
        {'boxes': torch.tensor([[40.0, 40.0, 60.0, 80.0]]), 'labels': torch.tensor([3]),
         'scores': torch.tensor([0.8])},
    ][:batch]
    seg = torch.zeros((batch, *INPUT), dtype=torch.int64)
    seg[0, :50, :100] = 1   # top-left quarter: car
    seg[0, 50:, 100:] = 2   # bottom-right quarter: person
    if batch > 1:
        seg[1] = 3
    return TaskOutputs(classification=probs, detection=det, segmentation=seg)


def _box(d: Detection) -> tuple[float, float, float, float]:
    return (d.center_x, d.center_y, d.size_x, d.size_y)


def test_boxes_are_scaled_per_axis_to_the_original_image():
    # Original 300 x 800 (h x w): x scales by 800/200 = 4, y by 300/100 = 3.
    r = to_frame_results(_outputs(), 0, classes=CLASSES, input_size=INPUT, image_size=(300, 800))
    assert [_box(d) for d in r.detections] == [
        pytest.approx((120.0, 120.0, 160.0, 120.0)),   # (10..50)*4, (20..60)*3
        pytest.approx((600.0, 150.0, 400.0, 300.0)),   # (100..200)*4, (0..100)*3
        pytest.approx((40.0, 15.0, 80.0, 30.0)),       # (0..20)*4, (0..10)*3
    ]
    assert [d.hypothesis for d in r.detections] == [
        Hypothesis(2, 'person', pytest.approx(0.9)), Hypothesis(1, 'car', pytest.approx(0.5)),
        Hypothesis(3, 'bike', pytest.approx(0.2))]


def test_same_size_keeps_input_pixels():
    r = to_frame_results(_outputs(), 1, classes=CLASSES, input_size=INPUT, image_size=INPUT)
    assert [_box(d) for d in r.detections] == [pytest.approx((50.0, 60.0, 20.0, 40.0))]
    assert r.detections[0].hypothesis == Hypothesis(3, 'bike', pytest.approx(0.8))


def test_min_score_drops_only_the_boxes_below_it():
    out = _outputs()
    kept = lambda s: [d.hypothesis.class_name for d in to_frame_results(  # noqa: E731
        out, 0, classes=CLASSES, input_size=INPUT, image_size=INPUT, min_score=s).detections]
    assert kept(0.0) == ['person', 'car', 'bike']
    assert kept(0.5) == ['person', 'car']          # a score equal to min_score is kept
    assert kept(0.50001) == ['person']
    assert kept(0.95) == []
    # A low score before a high one: the filter skips it and keeps looking.
    out.detection[0]['scores'] = torch.tensor([0.1, 0.7, 0.6])
    assert kept(0.5) == ['car', 'bike']
    default = to_frame_results(out, 0, classes=CLASSES, input_size=INPUT, image_size=INPUT)
    assert len(default.detections) == 3           # default min_score keeps everything


def test_top_k_keeps_the_best_classes_best_first():
    out = _outputs()
    r = to_frame_results(out, 0, classes=CLASSES, input_size=INPUT, image_size=INPUT, top_k=3)
    assert r.classification == [Hypothesis(1, 'city', pytest.approx(0.40)), Hypothesis(3, 'office', pytest.approx(0.25)),
                                Hypothesis(4, 'road', pytest.approx(0.15))]
    assert [h.class_name for h in to_frame_results(out, 1, classes=CLASSES, input_size=INPUT,
                                                   image_size=INPUT, top_k=1).classification] == ['beach']
    # Default top_k is 5; a top_k above the class count gives every class once.
    assert len(to_frame_results(out, 0, classes=CLASSES, input_size=INPUT, image_size=INPUT).classification) == 5
    every = to_frame_results(out, 0, classes=CLASSES, input_size=INPUT, image_size=INPUT, top_k=50).classification
    assert sorted(h.class_index for h in every) == list(range(6))


def test_label_map_is_resized_to_the_image_or_the_mask_size():
    out = _outputs()
    r = to_frame_results(out, 0, classes=CLASSES, input_size=INPUT, image_size=(300, 800))
    seg = r.segmentation
    assert seg.shape == (300, 800) and seg.dtype == np.uint8
    assert (seg[:150, :400] == 1).all() and (seg[150:, 400:] == 2).all()
    assert (seg[:150, 400:] == 0).all() and (seg[150:, :400] == 0).all()
    same = to_frame_results(out, 0, classes=CLASSES, input_size=INPUT, image_size=INPUT).segmentation
    assert np.array_equal(same, out.segmentation[0].numpy().astype(np.uint8))
    small = to_frame_results(out, 1, classes=CLASSES, input_size=INPUT, image_size=(300, 800), mask_size=(30, 80))
    assert small.segmentation.shape == (30, 80) and (small.segmentation == 3).all()
    # Boxes stay in original-image pixels whatever the mask size.
    assert _box(small.detections[0]) == pytest.approx((200.0, 180.0, 80.0, 120.0))


def test_missing_tasks_give_empty_results_of_the_right_shape():
    r = to_frame_results(TaskOutputs(), 0, classes=CLASSES, input_size=INPUT, image_size=(30, 40))
    assert r.classification == [] and r.detections == []
    assert r.segmentation.shape == (30, 40) and not r.segmentation.any()
    only_det = TaskOutputs(detection=_outputs().detection)
    r = to_frame_results(only_det, 0, classes=CLASSES, input_size=INPUT, image_size=INPUT)
    assert r.classification == [] and len(r.detections) == 3
    assert r.timings_ms == {}


def test_empty_label_map_is_uint8_too():
    assert to_frame_results(TaskOutputs(), 0, classes=CLASSES, input_size=INPUT,
                            image_size=(3, 4)).segmentation.dtype == np.uint8


def test_results_remember_the_model_input_size():
    r = to_frame_results(_outputs(), 0, classes=CLASSES, input_size=INPUT, image_size=(300, 800))
    assert r.input_size == INPUT


def test_compact_label_map_keeps_the_model_resolution_per_side():
    seg = np.zeros((480, 640), np.uint8)
    seg[:, 320:] = 2
    seg[240:, :] = 1
    r = FrameResults([], [], seg, input_size=(128, 128))
    small = r.compact_segmentation()
    assert small.shape == (128, 171) and small.dtype == np.uint8  # each side >= 128, the aspect kept
    assert small[0, 0] == 0 and small[0, -1] == 2 and small[-1, 0] == 1 and small[-1, -1] == 1
    assert FrameResults([], [], seg).compact_segmentation() is seg              # no input size known
    same = np.zeros((128, 256), np.uint8)
    assert FrameResults([], [], same, input_size=(128, 128)).compact_segmentation() is same  # scale exactly 1
    tiny = np.zeros((100, 90), np.uint8)
    assert FrameResults([], [], tiny, input_size=(128, 128)).compact_segmentation() is tiny  # never upsampled
    # A side already below the model's keeps the whole map (the scale is the larger ratio).
    wide = np.zeros((10, 4000), np.uint8)
    assert FrameResults([], [], wide, input_size=(128, 128)).compact_segmentation() is wide


def test_compact_label_map_is_nearest_and_uses_each_side():
    seg = np.zeros((480, 640), np.uint8)
    seg[::3, ::3] = 200   # a fine pattern: any interpolating resize invents labels in between
    small = FrameResults([], [], seg, input_size=(96, 160)).compact_segmentation()
    assert small.shape == (120, 160)      # width ratio 160/640 wins over height 96/480
    assert set(np.unique(small)) <= {0, 200}
    one = FrameResults([], [], np.zeros((10, 10), np.uint8), input_size=(1, 1)).compact_segmentation()
    assert one.shape == (1, 1)
