"""Held-out validation of the teacher during training: a fixed set of scenes of another world.

The score that picks the best weights and detects a plateau is the mean of top-1, box
mAP@[.5:.95] and mIoU, so no task can improve at another's expense unnoticed.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ladon_ros.codec.preprocess import normalize
from ladon_ros.world import SceneGenerator
from ladon_ros.eval.metrics import ConfusionIoU, box_map, top1
from ladon_ros.eval.study import EVAL_MAX_DETS, EVAL_SCORE_THRESH
from ladon_ros.models.spec import IMAGENET_MEAN, IMAGENET_STD


class TeacherValidation:
    """``val()`` -> metrics of the teacher on ``count`` scenes of world ``seed``.

    Args:
        model: The teacher being trained (its train/eval mode is restored after each call).
        count: Scenes in the set (drawn once, kept in memory).
        seed: World seed (not the training world's).
        batch: Scenes per forward pass.
    """

    def __init__(self, model: nn.Module, *, count: int, seed: int, batch: int = 32):
        self.model, self.batch = model, batch
        spec = model.spec
        gen = SceneGenerator(image_size=spec.input_size, seed=seed)
        self.scenes = [gen.sample(i) for i in range(count)]
        self.x = torch.from_numpy(np.concatenate([normalize(s.image, IMAGENET_MEAN, IMAGENET_STD) for s in self.scenes]))

    @torch.no_grad()
    def __call__(self) -> dict[str, float]:
        """top1, cls_nll (cross-entropy of the true class), map, map50, miou and score."""
        m, classes = self.model, self.model.spec.classes
        was_training = m.training
        rh = m.tail.heads.detection.roi_heads
        saved = rh.score_thresh, rh.detections_per_img
        rh.score_thresh, rh.detections_per_img = EVAL_SCORE_THRESH, EVAL_MAX_DETS
        device = next(m.parameters()).device
        m.eval()
        try:
            probs, gt, det = [], [], []
            iou = ConfusionIoU(len(classes.segmentation))
            for i0 in range(0, len(self.scenes), self.batch):
                chunk = self.scenes[i0:i0 + self.batch]
                out = m.infer(self.x[i0:i0 + self.batch].to(device))
                probs.append(out.classification.cpu().numpy())
                for j, s in enumerate(chunk):
                    d = out.detection[j]
                    det.append((d['boxes'].cpu().numpy(), d['labels'].cpu().numpy(), d['scores'].cpu().numpy()))
                    gt.append((s.boxes, s.box_labels))
                    iou.add(out.segmentation[j].cpu().numpy(), s.seg)
        finally:
            rh.score_thresh, rh.detections_per_img = saved
            m.train(was_training)
        p = np.concatenate(probs)
        truth = np.array([s.scene_class for s in self.scenes])
        maps = box_map(gt, det, len(classes.detection))
        res = {'top1': top1(p.argmax(1), truth),
               'cls_nll': float(-np.log(np.clip(p[np.arange(len(truth)), truth], 1e-12, 1.0)).mean()),
               'map': maps['map'], 'map50': maps['map50'], 'miou': iou.miou()}
        res['score'] = (res['top1'] + res['map'] + res['miou']) / 3
        return res
