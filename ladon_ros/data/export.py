"""Writes the synthetic world as a dataset in a standard format (``ladon-ros export-dataset``).

So the bring-your-own-data path is exercised end to end here: what these files hold is exactly
what the built-in loader gives (``ladon_ros.data.formats`` reads them back), and they show a
team the layout its own data must have.

- ``coco``: ``images/<id>.png`` + ``annotations.json``: one annotation per box of the world
  (bbox, category, its instance mask as RLE: the pixels of its class inside its box), plus
  one ``iscrowd`` annotation per class for the visible pixels that have no box (objects
  mostly hidden or tiny), so the masks render back to exactly the world's segmentation map;
  each image carries ``scene_category_id`` (top-level ``scene_categories`` names them).
- ``voc``: ``JPEGImages/<id>.png``, ``SegmentationClass/<id>.png`` (palette PNG of class
  ids), ``ImageSets/Segmentation/train.txt``, ``labels.txt``.
- ``imagefolder``: ``<scene class>/<id>.png`` and ``classes.txt`` (the class ids' order).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from ladon_ros.world import CLASSES, OBJECTS, SCENES, Scene, SceneGenerator

FORMATS = ('coco', 'voc', 'imagefolder')
_EXT = {'png': '.png', 'jpeg': '.jpg'}


def voc_palette() -> list[int]:
    """The PASCAL VOC colour map (256 RGB triplets), so the masks look like VOC's."""
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


def _save_image(image: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, **({'quality': 95} if path.suffix == '.jpg' else {}))


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def coco_annotations(scene: Scene, image_id: int, first_id: int) -> list[dict]:
    """The COCO annotations of one scene (ids from ``first_id``); category id = class id 1..5."""
    anns, covered = [], np.zeros(scene.seg.shape, bool)
    for box, label in zip(scene.boxes, scene.box_labels):
        x0, y0, x1, y1 = (int(v) for v in box)
        mask = np.zeros(scene.seg.shape, bool)
        mask[y0:y1, x0:x1] = scene.seg[y0:y1, x0:x1] == label
        covered |= mask
        anns.append({'id': first_id + len(anns), 'image_id': image_id, 'category_id': int(label), 'iscrowd': 0,
                     'bbox': [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], 'area': float(mask.sum()),
                     'segmentation': _rle(mask)})
    for label in range(1, len(OBJECTS) + 1):
        rest = (scene.seg == label) & ~covered
        if rest.any():
            rle = _rle(rest)
            anns.append({'id': first_id + len(anns), 'image_id': image_id, 'category_id': label, 'iscrowd': 1,
                         'bbox': [float(v) for v in mask_utils.toBbox(rle)], 'area': float(rest.sum()),
                         'segmentation': rle})
    return anns


def export_dataset(fmt: str, out: str | Path, *, count: int, seed: int = 0,
                   image_size: tuple[int, int] = (128, 128), image_format: str = 'png') -> dict:
    """Writes scenes ``0..count-1`` of synthetic world ``seed`` to ``out`` in format ``fmt``.

    Args:
        fmt: ``'coco'``, ``'voc'`` or ``'imagefolder'``.
        out: Output folder; must be empty or absent.
        count: Number of scenes.
        seed: World seed (training uses 0, held-out evaluation 1_000_000 + N).
        image_size: (height, width) of the scenes.
        image_format: ``'png'`` (lossless: the files are exactly the world) or ``'jpeg'``.

    Returns:
        What was written: format, folder, image count, class names.
    """
    if fmt not in FORMATS:
        raise ValueError(f'unknown format {fmt!r}; one of {FORMATS}')
    if image_format not in _EXT:
        raise ValueError(f'unknown image format {image_format!r}; one of {sorted(_EXT)}')
    if count < 1:
        raise ValueError('count must be >= 1')
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f'{out} is not empty')
    out.mkdir(parents=True, exist_ok=True)
    gen = SceneGenerator(image_size=image_size, seed=seed)
    ext = _EXT[image_format]
    scenes = (gen.sample(i) for i in range(count))
    if fmt == 'coco':
        _write_coco(out, scenes, ext, seed)
    elif fmt == 'voc':
        _write_voc(out, scenes, ext)
    else:
        for i, s in enumerate(scenes):
            _save_image(s.image, out / SCENES[s.scene_class] / f'{i:06d}{ext}')
        (out / 'classes.txt').write_text(''.join(f'{n}\n' for n in SCENES), encoding='utf-8')
    return {'format': fmt, 'out': str(out), 'images': count, 'classes': CLASSES.to_dict()}


def _write_coco(out: Path, scenes, ext: str, seed: int) -> None:
    images, anns = [], []
    for i, s in enumerate(scenes):
        name = f'{i:06d}{ext}'
        _save_image(s.image, out / 'images' / name)
        h, w = s.image.shape[:2]
        images.append({'id': i + 1, 'file_name': name, 'width': w, 'height': h, 'scene_category_id': s.scene_class + 1})
        anns += coco_annotations(s, i + 1, len(anns) + 1)
    doc = {
        'info': {'description': f'ladon_ros synthetic world {seed} (ladon-ros export-dataset)'},
        'images': images, 'annotations': anns,
        'categories': [{'id': k + 1, 'name': n} for k, n in enumerate(OBJECTS)],
        'scene_categories': [{'id': k + 1, 'name': n} for k, n in enumerate(SCENES)],
    }
    (out / 'annotations.json').write_text(json.dumps(doc), encoding='utf-8')


def _write_voc(out: Path, scenes, ext: str) -> None:
    ids, palette = [], voc_palette()
    for i, s in enumerate(scenes):
        name = f'{i:06d}'
        _save_image(s.image, out / 'JPEGImages' / f'{name}{ext}')
        mask = Image.fromarray(s.seg.astype(np.uint8), mode='P')
        mask.putpalette(palette)
        (out / 'SegmentationClass').mkdir(exist_ok=True)
        mask.save(out / 'SegmentationClass' / f'{name}.png')
        ids.append(name)
    (out / 'ImageSets' / 'Segmentation').mkdir(parents=True, exist_ok=True)
    (out / 'ImageSets' / 'Segmentation' / 'train.txt').write_text(''.join(f'{i}\n' for i in ids), encoding='utf-8')
    (out / 'labels.txt').write_text(''.join(f'{n}\n' for n in CLASSES.segmentation), encoding='utf-8')
