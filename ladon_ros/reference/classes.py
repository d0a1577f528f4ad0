"""Class names of the authors' checkpoints, shipped as small text files (nothing is downloaded).

- ``imagenet1000.txt``: ILSVRC 2012, logit order of torchvision's ResNet-50.
- ``coco91.txt``: COCO 2017 in torchvision's 91-id layout (index 0 ``__background__``, unused
  ids are ``N/A``), the label ids Faster R-CNN predicts.
- ``voc21.txt``: PASCAL VOC 2012 segmentation (index 0 ``__background__``).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ladon_ros.tasks import TaskClasses

CLASSES_DIR = Path(__file__).resolve().parent / 'classes'
_FILES = {'classification': 'imagenet1000.txt', 'detection': 'coco91.txt', 'segmentation': 'voc21.txt'}
_COUNTS = {'classification': 1000, 'detection': 91, 'segmentation': 21}


def read_class_file(path: str | Path) -> tuple[str, ...]:
    """One class name per line (blank trailing line ignored)."""
    names = tuple(line.rstrip('\r') for line in Path(path).read_text(encoding='utf-8').split('\n'))
    while names and names[-1] == '':
        names = names[:-1]
    if any(not n for n in names):
        raise ValueError(f'{path}: empty class name')
    return names


@lru_cache(maxsize=1)
def paper_classes() -> TaskClasses:
    """ImageNet 1000 / COCO 91 / VOC 21: what the published Ladon checkpoints predict."""
    kw = {task: read_class_file(CLASSES_DIR / name) for task, name in _FILES.items()}
    for task, names in kw.items():
        if len(names) != _COUNTS[task]:
            raise ValueError(f'{_FILES[task]} has {len(names)} names, expected {_COUNTS[task]}')
    return TaskClasses(**kw)
