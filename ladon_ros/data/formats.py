"""Datasets in standard formats, read with torchvision's dataset classes and the COCO tools.

Every loader gives the same thing as the synthetic world's ``SceneDataset``: a normalised
image at the model's input size and the targets it has labels for (``scene``, ``boxes`` +
``labels``, ``seg``), in the model's input pixels. ``tasks`` says which tasks a set labels and
``classes`` names their classes, in id order (what the checkpoint metadata will carry).

- ``images``: any folder of images, searched recursively; no labels (stage 1 needs none).
- ``imagefolder``: ``torchvision.datasets.ImageFolder`` (one folder per class); an optional
  ``classes.txt`` (one name per line) fixes the class ids, else folders sort alphabetically.
- ``coco``: ``torchvision.datasets.CocoDetection`` (pycocotools) over ``annotations.json`` +
  ``images/``: boxes of the non-crowd annotations, every annotation's mask (polygon or RLE,
  ``COCO.annToMask``) painted into a semantic map (larger first, so small objects stay on top),
  and the per-image scene label ``scene_category_id`` named by the top-level
  ``scene_categories`` (our extension: COCO has no image-level label).
- ``voc``: the ``VOCSegmentation`` layout read with PIL: ``JPEGImages/<id>.*``,
  ``SegmentationClass/<id>.png`` (palette or grey PNG of class ids, 255 = ignore),
  ``ImageSets/Segmentation/<split>.txt``, and ``labels.txt`` (class names in id order,
  background first).

Bad data raises ``DataError`` naming the file: a missing or unreadable image, a box outside
its image, an unknown category id, a mask of the wrong size, an empty dataset.
"""
from __future__ import annotations

from ladon_ros.data.coco import CocoSet
from ladon_ros.data.folders import ClassFolders, ImageDir, SyntheticSet
from ladon_ros.data.labelled import IGNORE_INDEX, DataError, LabelledImages
from ladon_ros.data.source import DataSource
from ladon_ros.data.voc import VocSegmentationSet
from ladon_ros.models.spec import IMAGENET_MEAN, IMAGENET_STD

__all__ = ['IGNORE_INDEX', 'DataError', 'LabelledImages', 'open_dataset']


def open_dataset(source: DataSource, image_size: tuple[int, int], *, default_seed: int = 0,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD) -> LabelledImages:
    """The loader of one configured source (a synthetic source needs ``count`` > 0 here).

    Raises:
        DataError: The data is unusable; the message names the file.
    """
    kw = dict(mean=mean, std=std)
    if source.format == 'synthetic':
        if not source.count:
            raise ValueError('an endless synthetic stream is not a finite dataset (set count)')
        seed = default_seed if source.seed is None else source.seed
        return SyntheticSet(seed=seed, count=source.count, image_size=image_size, **kw)
    if source.format == 'images':
        return ImageDir(source.path, image_size, **kw)
    if source.format == 'imagefolder':
        return ClassFolders(source.path, image_size, **kw)
    if source.format == 'coco':
        return CocoSet(source.path, image_size, **kw)
    if source.format == 'voc':
        return VocSegmentationSet(source.path, image_size, split=source.split, **kw)
    raise ValueError(f'unknown format {source.format!r}')
