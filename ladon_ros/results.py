"""Per-frame results in original-image pixels, ready for any transport (ROS or not)."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ladon_ros.models.ladon import TaskOutputs
from ladon_ros.tasks import TaskClasses


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


def to_frame_results(out: TaskOutputs, index: int, *, classes: TaskClasses, input_size: tuple[int, int],
                     image_size: tuple[int, int], mask_size: tuple[int, int] | None = None, top_k: int = 5,
                     min_score: float = 0.0) -> FrameResults:
    """Converts batch item ``index`` of raw head outputs to original-image results.

    Args:
        out: Head outputs for a batch (input-size pixels).
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
        probs = out.classification[index]
        scores, idx = probs.topk(min(top_k, probs.numel()))
        cls = [Hypothesis(int(i), classes.classification[int(i)], float(s)) for s, i in zip(scores, idx)]
    dets = []
    if out.detection is not None:
        d = out.detection[index]
        for box, label, score in zip(d['boxes'].tolist(), d['labels'].tolist(), d['scores'].tolist()):
            if score < min_score:
                continue
            x1, y1, x2, y2 = box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy
            dets.append(Detection(Hypothesis(int(label), classes.detection[int(label)], float(score)),
                                  (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1))
    mh, mw = mask_size or image_size
    seg = np.zeros((mh, mw), np.uint8)
    if out.segmentation is not None:
        lab = out.segmentation[index].to(torch.uint8).cpu().numpy()
        seg = cv2.resize(lab, (mw, mh), interpolation=cv2.INTER_NEAREST) if lab.shape != (mh, mw) else lab
    return FrameResults(cls, dets, seg, input_size=tuple(input_size))
