"""Per-frame results in original-image pixels, ready for any transport (ROS or not). No torch.

``to_frame_results`` reads raw head outputs of a batch: ``HeadOutputs`` (numpy, what the
edge back ends return) or the torch model's ``TaskOutputs`` (same fields, tensors).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ladon_ros.tasks import TaskClasses


@dataclass
class HeadOutputs:
    """Raw head outputs in input-image pixels for a batch, as numpy (None: head not run).

    Attributes:
        classification: Class probabilities, (B, K_cls) float32.
        detection: Per image: ``boxes`` (N, 4) xyxy input pixels, ``labels`` (N,), ``scores`` (N,).
        segmentation: Per-pixel label ids at input size, (B, H_in, W_in) integers.
    """

    classification: np.ndarray | None = None
    detection: list[dict[str, np.ndarray]] | None = None
    segmentation: np.ndarray | None = None


def _np(x) -> np.ndarray:
    """A numpy view of an array or a (CPU or CUDA) torch tensor."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


@dataclass(frozen=True)
class Hypothesis:
    """One class hypothesis (vision_msgs/ObjectHypothesis semantics)."""

    class_index: int
    class_name: str
    score: float


@dataclass(frozen=True)
class Detection:
    """One detected object; box as center + size in original-image pixels."""

    hypothesis: Hypothesis
    center_x: float
    center_y: float
    size_x: float
    size_y: float


@dataclass
class FrameResults:
    """Everything the three heads found in one frame.

    Attributes:
        classification: Top-k hypotheses, best first.
        detections: Objects, best score first.
        segmentation: (H, W) uint8 label ids at the original image size.
        timings_ms: Stage name -> milliseconds (decode, heads, ...).
        input_size: (height, width) the model ran at (the label map's true resolution).
    """

    classification: list[Hypothesis]
    detections: list[Detection]
    segmentation: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)
    input_size: tuple[int, int] | None = None

    def compact_segmentation(self) -> np.ndarray:
        """The label map at the model's resolution, in the camera image's aspect ratio.

        The heads predict at ``input_size``; upsampling to the camera's size adds pixels,
        not information. For the robot (whose results cross the slow link) the map is
        scaled so that each side keeps at least the model's resolution along it: e.g.
        171x128 for a 640x480 camera and a 128x128 model. Consumers upsample it (nearest)
        to their image. Without ``input_size`` (or for a small image) it is ``segmentation``.
        """
        seg = self.segmentation
        if self.input_size is None:
            return seg
        h, w = seg.shape
        scale = max(self.input_size[0] / h, self.input_size[1] / w)
        if scale >= 1.0:
            return seg
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return cv2.resize(seg, size, interpolation=cv2.INTER_NEAREST)


def to_frame_results(out: Any, index: int, *, classes: TaskClasses, input_size: tuple[int, int],
                     image_size: tuple[int, int], mask_size: tuple[int, int] | None = None, top_k: int = 5,
                     min_score: float = 0.0) -> FrameResults:
    """Converts batch item ``index`` of raw head outputs to original-image results.

    Args:
        out: Head outputs for a batch (input-size pixels): ``HeadOutputs`` or ``TaskOutputs``.
        index: Batch index.
        classes: Class names per task.
        input_size: (height, width) the model ran at.
        image_size: (height, width) of the original camera image (boxes are in its pixels).
        mask_size: (height, width) of the label map; default ``image_size`` (the edge caps it
            so a frame claiming a huge image cannot cost huge result bytes).
        top_k: Classification hypotheses to keep.
        min_score: Drop detections scoring below this.
    """
    ih, iw = input_size
    oh, ow = image_size
    sx, sy = ow / iw, oh / ih
    cls = []
    if out.classification is not None:
        probs = _np(out.classification[index])
        idx = np.argsort(-probs, kind='stable')[:min(top_k, probs.size)]
        cls = [Hypothesis(int(i), classes.classification[int(i)], float(probs[i])) for i in idx]
    dets = []
    if out.detection is not None:
        d = out.detection[index]
        for box, label, score in zip(_np(d['boxes']).tolist(), _np(d['labels']).tolist(), _np(d['scores']).tolist()):
            if score < min_score:
                continue
            x1, y1, x2, y2 = box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy
            dets.append(Detection(Hypothesis(int(label), classes.detection[int(label)], float(score)),
                                  (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1))
    mh, mw = mask_size or image_size
    seg = np.zeros((mh, mw), np.uint8)
    if out.segmentation is not None:
        lab = _np(out.segmentation[index]).astype(np.uint8)
        seg = cv2.resize(lab, (mw, mh), interpolation=cv2.INTER_NEAREST) if lab.shape != (mh, mw) else lab
    return FrameResults(cls, dets, seg, input_size=tuple(input_size))
