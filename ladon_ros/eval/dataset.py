"""A COCO-format dataset as evaluation scenes (``ladon-ros eval --dataset DIR``).

The study measures codecs on ``Scene`` records at the model's input size; this turns any
COCO set (``ladon_ros.data.formats.CocoSet``: boxes, masks rendered to a semantic map,
per-image scene label) into such records, after checking that it names the classes the
checkpoints predict.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ladon_ros.data.coco import CocoSet
from ladon_ros.data.labelled import DataError
from ladon_ros.world import Scene
from ladon_ros.tasks import TaskClasses


def coco_scenes(path: str | Path, classes: TaskClasses, input_size: tuple[int, int], limit: int = 0) -> list[Scene]:
    """The images of a COCO set as scenes at ``input_size`` (boxes and masks scaled with them).

    Args:
        path: The set's folder (``annotations.json`` + ``images/``) or its JSON file.
        classes: The checkpoints' classes; the set must name the same, in the same order.
        input_size: (height, width) of the models.
        limit: Use only the first ``limit`` images (0 = all).

    Returns:
        Scenes; ``scene_class`` is -1 without scene labels, ``seg`` None without masks.

    Raises:
        DataError: Bad data (names the file), no boxes, or classes other than the checkpoints'.
    """
    ds = CocoSet(path, input_size)
    if 'detection' not in ds.tasks:
        raise DataError(f'{ds.name}: no categories, so no boxes to evaluate detection on')
    for task, names in ds.classes.items():
        if tuple(names) != tuple(classes.for_task(task)):
            raise DataError(f'{ds.name}: {task} classes {list(names)} are not the checkpoints\' '
                            f'{list(classes.for_task(task))}')
    scenes = []
    for i in range(min(len(ds), limit) if limit else len(ds)):
        image, t = ds.sample(i)
        scenes.append(Scene(image=image, scene_class=int(t.get('scene', -1)), boxes=t['boxes'],
                            box_labels=t['labels'], seg=t['seg'].astype(np.int64) if 'seg' in t else None))
    return scenes
