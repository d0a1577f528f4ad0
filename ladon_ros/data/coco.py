"""COCO JSON sets (``torchvision.datasets.CocoDetection``, pycocotools masks)."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from torchvision.datasets import CocoDetection

from ladon_ros.data.labelled import DataError, LabelledImages, image_size_of

BOX_SLACK_PX = 0.5  # boxes may pass the image edge by this much (rounding), then are clipped


def coco_paths(path: str | Path) -> tuple[Path, Path]:
    """(annotation file, image root) of a COCO set given as a folder or as its JSON file."""
    path = Path(path)
    ann = path / 'annotations.json' if path.is_dir() else path
    if not ann.is_file():
        raise DataError(f'{ann}: COCO annotation file not found')
    images = ann.parent / 'images'
    return ann, images if images.is_dir() else ann.parent


class CocoSet(LabelledImages):
    """A COCO JSON set (``CocoDetection``): boxes, masks -> semantic map, scene labels.

    Category ids may be any integers: detection label ``k`` (1..K) is the k-th category in
    id order, segmentation id ``k`` the same class; scene ids likewise (0..S-1).
    """

    def __init__(self, path: str | Path, image_size: tuple[int, int], **kw):
        super().__init__(image_size, **kw)
        self.ann_file, root = coco_paths(path)
        self.name = str(self.ann_file)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints timings
                self.coco_ds = CocoDetection(str(root), str(self.ann_file))
        except (json.JSONDecodeError, UnicodeDecodeError, AssertionError, KeyError, TypeError) as err:
            raise DataError(f'{self.ann_file}: not a COCO annotation file ({type(err).__name__}: {err})') from None
        coco = self.coco_ds.coco
        self._check_len()
        cats = sorted(coco.cats)
        self.cat_label = {c: i + 1 for i, c in enumerate(cats)}
        names = tuple(str(coco.cats[c]['name']) for c in cats)
        scene_cats = sorted(coco.dataset.get('scene_categories') or [], key=lambda c: c['id'])
        self.scene_label = {c['id']: i for i, c in enumerate(scene_cats)}
        anns = list(coco.anns.values())
        with_masks = sum(1 for a in anns if a.get('segmentation'))
        self.classes, tasks = {}, []
        if scene_cats:
            tasks.append('classification')
            self.classes['classification'] = tuple(str(c['name']) for c in scene_cats)
        if cats:
            tasks.append('detection')
            self.classes['detection'] = ('__background__',) + names
        if anns and with_masks == len(anns):
            tasks.append('segmentation')
            self.classes['segmentation'] = ('background',) + names
        elif with_masks:
            bad = next(a for a in anns if not a.get('segmentation'))
            raise DataError(f'{self.ann_file}: annotation {bad["id"]} has no segmentation but {with_masks} others '
                            'do: give every annotation a mask, or none')
        self.tasks = tuple(tasks)
        self.root = root
        self._validate(coco, cats)

    def _validate(self, coco, cats: list[int]) -> None:
        """Checks every image entry and annotation up front (no image is decoded here)."""
        for img_id in self.coco_ds.ids:
            info = coco.imgs[img_id]
            if not isinstance(info.get('file_name'), str):
                raise DataError(f'{self.ann_file}: image {img_id} has no file_name')
            f = self.root / info['file_name']
            if not f.is_file():
                raise DataError(f'{self.ann_file}: image {img_id}: file {f} not found')
            if image_size_of(f) != (info.get('width'), info.get('height')):
                raise DataError(f'{f}: image is {"x".join(map(str, image_size_of(f)))}, {self.ann_file} says '
                                f'{info.get("width")}x{info.get("height")}')
            if self.scene_label and info.get('scene_category_id') not in self.scene_label:
                raise DataError(f'{self.ann_file}: image {img_id} ({f.name}): scene_category_id '
                                f'{info.get("scene_category_id")!r} is not one of the scene_categories '
                                f'{sorted(self.scene_label)}')
        for a in coco.anns.values():
            info = coco.imgs.get(a.get('image_id'))
            if info is None:
                raise DataError(f'{self.ann_file}: annotation {a.get("id")}: unknown image_id {a.get("image_id")!r}')
            where = f'{self.ann_file}: annotation {a.get("id")} (image {info["file_name"]})'
            if a.get('category_id') not in self.cat_label:
                raise DataError(f'{where}: unknown category_id {a.get("category_id")!r}; the categories are {cats}')
            w, h = info['width'], info['height']
            box = a.get('bbox')
            if not (isinstance(box, list) and len(box) == 4):
                raise DataError(f'{where}: bbox must be [x, y, width, height], got {box!r}')
            x, y, bw, bh = (float(v) for v in box)
            if bw <= 0 or bh <= 0:
                raise DataError(f'{where}: empty box {box}')
            s = BOX_SLACK_PX
            if x < -s or y < -s or x + bw > w + s or y + bh > h + s:
                raise DataError(f'{where}: box {box} (x, y, w, h) lies outside the {w}x{h} image')
            seg = a.get('segmentation')
            if isinstance(seg, dict) and [int(v) for v in seg.get('size', ())] != [h, w]:
                raise DataError(f'{where}: mask of size {seg.get("size")} (h, w) for a {h}x{w} image')

    def __len__(self) -> int:
        return len(self.coco_ds)

    def _read(self, index: int):
        pil, anns = self.coco_ds[index]
        image = np.asarray(pil)
        img_id = self.coco_ds.ids[index]
        info = self.coco_ds.coco.imgs[img_id]
        h, w = image.shape[:2]
        t: dict = {}
        if 'classification' in self.tasks:
            t['scene'] = self.scene_label[info['scene_category_id']]
        if 'detection' in self.tasks:
            objs = [a for a in anns if not a.get('iscrowd', 0)]
            boxes = np.array([a['bbox'] for a in objs], np.float32).reshape(-1, 4)
            boxes[:, 2:] += boxes[:, :2]
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
            t['boxes'] = boxes
            t['labels'] = np.array([self.cat_label[a['category_id']] for a in objs], np.int64)
        if 'segmentation' in self.tasks:
            seg = np.zeros((h, w), np.int64)
            masks = [(self.coco_ds.coco.annToMask(a), self.cat_label[a['category_id']]) for a in anns]
            for m, label in sorted(masks, key=lambda ml: -int(ml[0].sum())):
                seg[m > 0] = label
            t['seg'] = seg
        return image, t
