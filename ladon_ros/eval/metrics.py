"""Task metrics: top-1 accuracy, COCO box mAP (faster-coco-eval), mean IoU."""
from __future__ import annotations

import contextlib
import io

import numpy as np


def top1(pred: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of scenes whose arg-max class is the true one."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.size == 0:
        raise ValueError('top1 needs two non-empty arrays of the same shape')
    return float((pred == truth).mean())


class ConfusionIoU:
    """Accumulates a pixel confusion matrix; ``miou()`` averages IoU over the classes seen."""

    def __init__(self, num_classes: int):
        self.k = int(num_classes)
        self.matrix = np.zeros((self.k, self.k), np.int64)

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        """Adds one (H, W) prediction against its (H, W) truth (label ids)."""
        if pred.shape != truth.shape:
            raise ValueError(f'prediction {pred.shape} and truth {truth.shape} differ')
        idx = truth.astype(np.int64).ravel() * self.k + pred.astype(np.int64).ravel()
        self.matrix += np.bincount(idx, minlength=self.k * self.k).reshape(self.k, self.k)

    def per_class(self) -> np.ndarray:
        """IoU per class; NaN where the class is neither predicted nor present."""
        inter = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - inter
        with np.errstate(invalid='ignore', divide='ignore'):
            return np.where(union > 0, inter / union, np.nan)

    def miou(self) -> float:
        """Mean over classes with a non-empty union (background included, as in VOC)."""
        iou = self.per_class()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0


def box_map(gt: list[tuple[np.ndarray, np.ndarray]], det: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
            num_classes: int) -> dict[str, float]:
    """COCO box mAP with faster-coco-eval.

    Args:
        gt: Per image ``(boxes (N, 4) xyxy, labels (N,))``.
        det: Per image ``(boxes (M, 4) xyxy, labels (M,), scores (M,))``.
        num_classes: Detection classes including background 0 (categories are 1..K-1).

    Returns:
        ``{'map': mAP@[.5:.95], 'map50': mAP@.5}`` in 0..1 (0 when nothing is annotated).
    """
    from faster_coco_eval import COCO, COCOeval_faster
    if len(gt) != len(det):
        raise ValueError('gt and det must list the same images')
    images, anns, results = [], [], []
    for i, ((gb, gl), (db, dl, ds)) in enumerate(zip(gt, det)):
        images.append({'id': i + 1, 'width': 1, 'height': 1})
        for b, lab in zip(np.asarray(gb, np.float64), gl):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({'id': len(anns) + 1, 'image_id': i + 1, 'category_id': int(lab), 'iscrowd': 0,
                         'bbox': [b[0], b[1], w, h], 'area': float(w * h)})
        for b, lab, s in zip(np.asarray(db, np.float64), dl, ds):
            results.append({'image_id': i + 1, 'category_id': int(lab), 'score': float(s),
                            'bbox': [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    if not anns:
        return {'map': 0.0, 'map50': 0.0}
    cats = [{'id': c, 'name': str(c)} for c in range(1, num_classes)]
    with contextlib.redirect_stdout(io.StringIO()):  # the COCO API prints its summaries
        coco_gt = COCO({'images': images, 'annotations': anns, 'categories': cats})
        if not results:
            return {'map': 0.0, 'map50': 0.0}
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval_faster(coco_gt, coco_dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {'map': max(0.0, float(ev.stats[0])), 'map50': max(0.0, float(ev.stats[1]))}
