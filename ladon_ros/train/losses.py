"""Loss terms of the teacher and of the three Ladon training stages."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def task_losses(out: dict, targets: list[dict]) -> dict[str, torch.Tensor]:
    """Supervised losses of whichever heads ran.

    Args:
        out: Model training outputs (``classification``/``segmentation`` logits,
            ``detection`` loss dict).
        targets: Per-scene targets (``scene``, ``seg``; boxes were given to the model).

    Returns:
        Named loss terms: ``cls`` (cross-entropy), ``seg`` (pixel cross-entropy), and the
        four Faster R-CNN terms (``loss_objectness``, ``loss_rpn_box_reg``,
        ``loss_classifier``, ``loss_box_reg``).
    """
    terms = {}
    if 'classification' in out:
        labels = torch.stack([t['scene'] for t in targets]).to(out['classification'].device)
        terms['cls'] = F.cross_entropy(out['classification'], labels)
    if 'segmentation' in out:
        seg = torch.stack([t['seg'] for t in targets]).to(out['segmentation'].device)
        terms['seg'] = F.cross_entropy(out['segmentation'], seg)
    if 'detection' in out:
        terms.update(out['detection'])
    return terms


def feature_distillation(student: dict, teacher: dict) -> torch.Tensor:
    """Sum over the four stage outputs of the mean squared error to the teacher's."""
    return sum(F.mse_loss(student[k], teacher[k].detach()) for k in ('0', '1', '2', '3'))


def bits_per_image(likelihoods: torch.Tensor | dict) -> torch.Tensor:
    """Mean over the batch of -sum log2(likelihood) of the latent symbols (bits per image).

    Args:
        likelihoods: One (B, C, H, W) tensor, or a dict of them (CompressAI's form).
    """
    liks = list(likelihoods.values()) if isinstance(likelihoods, dict) else [likelihoods]
    total = sum(-torch.log(lik).sum() / math.log(2) for lik in liks)
    return total / liks[0].shape[0]


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None,
            *, alpha: float, temperature: float) -> torch.Tensor:
    """Hinton KD: ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels)``.

    Without labels (unlabelled images) the teacher is the only target: ``T^2 * KL``.
    """
    t = temperature
    kl = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits.detach() / t, dim=1),
                  reduction='batchmean', log_target=True)
    if labels is None:
        return t * t * kl
    return alpha * t * t * kl + (1.0 - alpha) * F.cross_entropy(student_logits, labels)
