"""What the edge asks of a model back end (``EdgeModel``), and the per-batch stage timings.

A back end holds one checkpoint (a Ladon rate point or the teacher) on one engine (torch,
ONNX Runtime) and does the network work only: entropy decoding stays in
``ladon_ros.codec.latent`` and validation in ``ladon_ros.edge``. Features are the back
end's own type (a torch tensor, a numpy array); the edge only passes them back to it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ladon_ros.checkpoint import CheckpointMeta
from ladon_ros.codec.latent.tables import EntropyTables
from ladon_ros.results import HeadOutputs

HEADS = ('classification', 'detection', 'segmentation')


@dataclass
class StageTimes:
    """Milliseconds per stage of one batch (``network``: decoder aside, the body; one per head).

    Attributes:
        clock: Seconds (``time.perf_counter``; a benchmark passes ``time.thread_time``).
        ms: Stage -> milliseconds spent in this batch.
        frames: Stage -> frames that ran it (a head runs only for frames that want it).
    """

    clock: Callable[[], float] = time.perf_counter
    ms: dict[str, float] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)

    def timed(self, stage: str, frames: int, fn, *args):
        """Runs ``fn(*args)``, adding its time to ``stage``."""
        t0 = self.clock()
        out = fn(*args)
        self.ms[stage] = self.ms.get(stage, 0.0) + (self.clock() - t0) * 1e3
        self.frames[stage] = self.frames.get(stage, 0) + frames
        return out

    def per_frame(self, stage: str) -> float:
        """Milliseconds of ``stage`` per frame that ran it (0 if none did)."""
        n = self.frames.get(stage, 0)
        return self.ms.get(stage, 0.0) / n if n else 0.0


class EdgeModel(Protocol):
    """One checkpoint on one engine.

    Attributes:
        engine: ``'torch'``, ``'onnx'`` or ``'onnx-int8'`` (the body quantised).
        meta: The checkpoint's metadata (model, rate point, classes, input size, hash).
        tables: The entropy tables (Ladon), None for the teacher.
    """

    engine: str
    meta: CheckpointMeta
    tables: EntropyTables | None

    def decode(self, latent: np.ndarray) -> Any:
        """Ladon: (1, C, h, w) float32 latent -> ``layer1`` features of one frame."""

    def image_input(self, rgb: np.ndarray) -> Any:
        """Teacher: (H_in, W_in, 3) uint8 image -> the network's input for one frame."""

    def finite(self, features: Any) -> bool:
        """Whether every value of one frame's features is finite."""

    def run(self, inputs: list, wants: list[frozenset[str]], times: StageTimes) -> list[HeadOutputs]:
        """Body on the batch, each head on the frames that want it.

        Args:
            inputs: One frame's features (``decode``/``image_input``) per frame.
            wants: Per frame, the heads (``HEADS``) to run; a frame wanting none skips the body.
            times: Receives the stage timings.

        Returns:
            Per frame, its outputs as a batch of one (a head it did not want: None).
        """


def select(wants: list[frozenset[str]], head: str) -> list[int]:
    """Batch indices of the frames that want ``head``."""
    return [i for i, w in enumerate(wants) if head in w]


def split(n: int, wants: list[frozenset[str]], cls=None, det=None, seg=None) -> list[HeadOutputs]:
    """Per-frame ``HeadOutputs`` (batches of one) from per-head outputs over ``select(wants, head)``.

    Args:
        n: Frames in the batch.
        wants: Per frame, the heads it wanted.
        cls, seg: Arrays over the frames that wanted the head (in batch order), or None.
        det: List of per-frame detection dicts over the frames that wanted detection, or None.
    """
    out = [HeadOutputs() for _ in range(n)]
    for j, i in enumerate(select(wants, 'classification') if cls is not None else ()):
        out[i].classification = cls[j:j + 1]
    for j, i in enumerate(select(wants, 'detection') if det is not None else ()):
        out[i].detection = [det[j]]
    for j, i in enumerate(select(wants, 'segmentation') if seg is not None else ()):
        out[i].segmentation = seg[j:j + 1]
    return out
