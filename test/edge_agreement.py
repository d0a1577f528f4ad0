"""Agreement between two edges' results on the same frames (ONNX Runtime vs torch; int8 vs fp32)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def box_iou(a, b) -> float:
    """IoU of two ``results.Detection`` boxes (center + size)."""
    ax, ay, bx, by = a.center_x - a.size_x / 2, a.center_y - a.size_y / 2, b.center_x - b.size_x / 2, \
        b.center_y - b.size_y / 2
    iw = max(0.0, min(ax + a.size_x, bx + b.size_x) - max(ax, bx))
    ih = max(0.0, min(ay + a.size_y, by + b.size_y) - max(ay, by))
    inter = iw * ih
    union = a.size_x * a.size_y + b.size_x * b.size_y - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Agreement:
    """How far ``other`` is from ``ref`` over a set of frames.

    Attributes:
        top1: Fraction of frames with the same top-1 class.
        mask: Fraction of label-map pixels equal (all frames together).
        matched: Fraction of ``ref`` detections that ``other`` has with the same class at IoU >= 0.5.
        min_iou: Smallest best-IoU of a ``ref`` detection among ``other``'s of its class (1 if none).
        count_diff: Sum over frames of |#ref detections - #other detections|.
        detections: ``ref`` detections in all.
    """

    top1: float
    mask: float
    matched: float
    min_iou: float
    count_diff: int
    detections: int


def agreement(ref: list, other: list) -> Agreement:
    """Compares two lists of ``FrameResults`` frame by frame."""
    top1 = np.mean([a.classification[0].class_index == b.classification[0].class_index for a, b in zip(ref, other)])
    mask = float(np.mean(np.concatenate([(a.segmentation == b.segmentation).ravel() for a, b in zip(ref, other)])))
    ious, diff = [], 0
    for a, b in zip(ref, other):
        diff += abs(len(a.detections) - len(b.detections))
        for d in a.detections:
            same = [box_iou(d, x) for x in b.detections if x.hypothesis.class_index == d.hypothesis.class_index]
            ious.append(max(same, default=0.0))
    return Agreement(float(top1), mask, float(np.mean([i >= 0.5 for i in ious])) if ious else 1.0,
                     min(ious, default=1.0), diff, len(ious))
