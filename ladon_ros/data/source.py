"""Where a training stage's images and labels come from: one ``DataSource`` (no torch here).

A stage lists one or more sources (``data:`` in the training YAML); an empty list means the
built-in synthetic world, exactly as before. The formats and their layouts are in
docs/TRAINING.md ("Train on your robot's data"); the loaders are ``ladon_ros.data.formats``.
"""
from __future__ import annotations

from dataclasses import dataclass

from ladon_ros.config import ConfigError, one_of, param

# format -> the tasks it can label (what a file actually holds may be less: a COCO file
# without masks has no segmentation); 'images' labels nothing (stage 1 needs no labels).
FORMATS = {
    'synthetic': ('classification', 'detection', 'segmentation'),
    'images': (),
    'imagefolder': ('classification',),
    'coco': ('classification', 'detection', 'segmentation'),
    'voc': ('segmentation',),
}


@dataclass(frozen=True)
class DataSource:
    """One dataset a stage reads."""

    format: str = param(description="'synthetic' (built-in world), 'images' (any folder of images, no labels), "
                        "'imagefolder' (one folder per class), 'coco' (COCO JSON: boxes, instance masks, "
                        "per-image scene label) or 'voc' (VOC-style PNG class masks)",
                        check=one_of(*FORMATS))
    path: str = param('', 'Dataset folder (coco: the folder with annotations.json and images/, or the JSON '
                      'file itself); not used by synthetic')
    split: str = param('train', 'voc: the image list ImageSets/Segmentation/<split>.txt')
    seed: int | None = param(None, "synthetic: world seed (default: the run's train_seed)", range=(0, 2**31 - 1))
    count: int = param(0, 'synthetic: a fixed set of this many scenes (0 = fresh scenes every step)',
                       range=(0, 2**31 - 1))

    def __post_init__(self):
        if self.format == 'synthetic':
            if self.path:
                raise ConfigError('path: the synthetic world is generated, it has no path')
        else:
            if not self.path:
                raise ConfigError(f'path: missing (format {self.format!r} reads files)')
            for key in ('seed', 'count'):
                if getattr(self, key):
                    raise ConfigError(f'{key}: only the synthetic world has one')

    def describe(self) -> str:
        """Short human name, e.g. ``coco:/data/robot`` or ``synthetic(seed 3, 64 scenes)``."""
        if self.format == 'synthetic':
            seed = 'train_seed' if self.seed is None else self.seed
            return f'synthetic(seed {seed}, {self.count or "fresh"} scenes)'
        return f'{self.format}:{self.path}'
