"""Ladon (multi-task supervised compression) and its uncompressed teacher.

``Ladon`` = bottleneck (encoder, entropy model, decoder) -> shared body -> three heads.
``Teacher`` = image stem -> body -> the same three heads (the accuracy ceiling, and the
model that serves frames sent with image codecs).

At run time the model is split: ``RobotSide`` (encoder + entropy coder) runs on the
camera, ``EdgeSide`` (entropy decoder + decoder + body + heads) on the base station.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ladon_ros.models.body import SharedBody, build_stem
from ladon_ros.models.bottleneck import LadonBottleneck
from ladon_ros.models.heads import MultiTaskHeads
from ladon_ros.models.spec import ModelSpec
from ladon_ros.tasks import TASKS


@dataclass
class TaskOutputs:
    """Raw head outputs in input-image pixels for a batch.

    Attributes:
        classification: Class probabilities, (B, K_cls), or None if not requested.
        detection: Per image: ``boxes`` (N, 4) xyxy input pixels, ``labels`` (N,), ``scores`` (N,).
        segmentation: Per-pixel label ids at input size, (B, H_in, W_in) int64, or None.
    """

    classification: torch.Tensor | None = None
    detection: list[dict[str, torch.Tensor]] | None = None
    segmentation: torch.Tensor | None = None


class PerceptionTail(nn.Module):
    """Shared body + multi-task heads: everything after ``layer1``."""

    def __init__(self, *, spec: ModelSpec):
        super().__init__()
        self.body = SharedBody(spec=spec)
        self.heads = MultiTaskHeads(spec=spec, body_channels=self.body.out_channels)

    def infer(self, layer1: torch.Tensor, tasks: tuple[str, ...] = TASKS) -> TaskOutputs:
        """Inference from ``layer1`` features for the requested tasks."""
        for t in tasks:
            if t not in TASKS:
                raise ValueError(f'unknown task {t!r}')
        feats = self.body(layer1)
        out = TaskOutputs()
        if 'classification' in tasks:
            out.classification = self.heads.classification(feats).softmax(dim=1)
        if 'detection' in tasks:
            out.detection = self.heads.detection(feats)
        if 'segmentation' in tasks:
            out.segmentation = self.heads.segmentation(feats).argmax(dim=1)
        return out

    def train_forward(self, layer1: torch.Tensor, det_targets: list[dict] | None = None,
                      tasks: tuple[str, ...] = TASKS) -> dict:
        """Training pass: body features, classification/segmentation logits, detection losses."""
        feats = self.body(layer1)
        out = {'features': feats}
        if 'classification' in tasks:
            out['classification'] = self.heads.classification(feats)
        if 'segmentation' in tasks:
            out['segmentation'] = self.heads.segmentation(feats)
        if 'detection' in tasks and det_targets is not None:
            out['detection'] = self.heads.detection(feats, det_targets)
        return out


class Ladon(nn.Module):
    """The full multi-task supervised compression model (training and reference use)."""

    def __init__(self, *, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        self.bottleneck = LadonBottleneck(
            bottleneck_channels=spec.bottleneck_channels, target_channels=spec.stem_channels,
            decoder_widths=spec.decoder_widths)
        self.tail = PerceptionTail(spec=spec)

    def forward(self, x: torch.Tensor, det_targets: list[dict] | None = None,
                tasks: tuple[str, ...] = TASKS) -> dict:
        """Training pass (CompressAI contract): adds ``likelihoods`` to the tail's outputs."""
        bn = self.bottleneck(x)
        out = self.tail.train_forward(bn['features'], det_targets, tasks)
        out['likelihoods'] = bn['likelihoods']
        return out

    def update(self, force: bool = False) -> bool:
        """Builds the entropy coder's CDF tables; once after loading, before compress."""
        return self.bottleneck.update(force=force)

    def aux_loss(self) -> torch.Tensor:
        """The entropy model's quantile loss."""
        return self.bottleneck.aux_loss()

    def robot_side(self) -> 'RobotSide':
        """The camera-side half (shares parameters with this model)."""
        return RobotSide(self.bottleneck)

    def edge_side(self) -> 'EdgeSide':
        """The edge-side half (shares parameters with this model)."""
        return EdgeSide(self.bottleneck, self.tail)


class Teacher(nn.Module):
    """Uncompressed model with the same body and heads: stem -> body -> heads."""

    def __init__(self, *, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        self.stem = build_stem(spec=spec)
        self.tail = PerceptionTail(spec=spec)

    def forward(self, x: torch.Tensor, det_targets: list[dict] | None = None,
                tasks: tuple[str, ...] = TASKS) -> dict:
        """Training pass from normalised images."""
        return self.tail.train_forward(self.stem(x), det_targets, tasks)

    @torch.no_grad()
    def infer(self, x: torch.Tensor, tasks: tuple[str, ...] = TASKS) -> TaskOutputs:
        """Inference from normalised images, (B, 3, H_in, W_in)."""
        return self.tail.infer(self.stem(x), tasks)


class RobotSide(nn.Module):
    """Camera side: encoder + entropy coder. ``update()`` must have run on the bottleneck.

    ``compress`` is the reference path (CompressAI's contract), not the runtime's: the
    camera encoder (``ladon_ros.camera.LadonCameraEncoder``, torch or ONNX back end) codes
    with ``ladon_ros.codec.latent``, whose payload body is byte-identical to ``compress``'s
    string for the same image, except where float32 noise makes CompressAI's rounding of
    a near-boundary value differ from the exact one (``codec.latent.quantize``; test:
    test/test_compressai_contract.py).
    """

    def __init__(self, bottleneck: LadonBottleneck):
        super().__init__()
        self.bottleneck = bottleneck

    @torch.no_grad()
    def compress(self, x: torch.Tensor) -> dict:
        """Normalised images (B, 3, H_in, W_in) -> ``{'strings': [[bytes]*B], 'shape': (h, w)}``."""
        return self.bottleneck.compress(x)


class EdgeSide(nn.Module):
    """Edge side: entropy decoder + decoder + shared body + heads.

    ``decompress`` is the reference path; the edge (``EdgePerception.prepare``) runs its two
    halves, ``entropy_decode`` then ``decode``, with validation between them, and gets the
    same features (test/test_compressai_contract.py).
    """

    def __init__(self, bottleneck: LadonBottleneck, tail: PerceptionTail):
        super().__init__()
        self.bottleneck = bottleneck
        self.tail = tail

    @torch.no_grad()
    def decompress(self, strings: list, shape: tuple[int, int]) -> torch.Tensor:
        """Entropy-coded strings -> ``layer1``-shaped features."""
        return self.bottleneck.decompress(strings, shape)

    @torch.no_grad()
    def entropy_decode(self, strings: list, shape: tuple[int, int]) -> torch.Tensor:
        """First half of ``decompress``: strings -> latent (so a caller can check the symbols)."""
        return self.bottleneck.entropy_decode(strings, shape)

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Second half of ``decompress``: latent -> ``layer1``-shaped features."""
        return self.bottleneck.decoder(latent)

    @torch.no_grad()
    def infer(self, layer1: torch.Tensor, tasks: tuple[str, ...] = TASKS) -> TaskOutputs:
        """Features -> the three tasks' outputs."""
        return self.tail.infer(layer1, tasks)
