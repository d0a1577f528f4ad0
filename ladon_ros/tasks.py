"""The three tasks and the class names a model predicts for each (no torch, no models).

Here rather than in ``ladon_ros.models`` so that the synthetic world (``ladon_ros.data``),
the results and the robot side name classes without importing the model registry.
"""
from __future__ import annotations

from dataclasses import dataclass

TASKS = ('classification', 'detection', 'segmentation')


@dataclass(frozen=True)
class TaskClasses:
    """Class names per task; they travel with the checkpoint, never with ROS parameters.

    Attributes:
        classification: Scene-level class names, index = logit index.
        detection: Object class names; index 0 is the background of Faster R-CNN.
        segmentation: Per-pixel class names; index 0 is the background.
    """

    classification: tuple[str, ...]
    detection: tuple[str, ...]
    segmentation: tuple[str, ...]

    def for_task(self, task: str) -> tuple[str, ...]:
        """Returns the class names of ``task`` (one of ``TASKS``)."""
        if task not in TASKS:
            raise ValueError(f'unknown task {task!r}; expected one of {TASKS}')
        return getattr(self, task)

    def to_dict(self) -> dict[str, list[str]]:
        """Returns a JSON-friendly dict (task -> list of names)."""
        return {t: list(self.for_task(t)) for t in TASKS}

    @classmethod
    def from_dict(cls, data: dict) -> 'TaskClasses':
        """Builds from ``to_dict()`` output, validating types."""
        try:
            kw = {t: tuple(str(n) for n in data[t]) for t in TASKS}
        except (KeyError, TypeError) as err:
            raise ValueError(f'class map must name classes for each of {TASKS}: {err}') from err
        for t, names in kw.items():
            if len(names) < 2:
                raise ValueError(f'task {t!r} needs at least 2 classes, got {len(names)}')
        return cls(**kw)

    @classmethod
    def generic(cls, num_cls: int, num_det: int, num_seg: int) -> 'TaskClasses':
        """Placeholder names (``class_<i>``) for randomly initialised models."""
        return cls(
            classification=tuple(f'class_{i}' for i in range(num_cls)),
            detection=('__background__',) + tuple(f'object_{i}' for i in range(1, num_det)),
            segmentation=('background',) + tuple(f'region_{i}' for i in range(1, num_seg)),
        )
