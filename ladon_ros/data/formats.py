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

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.datasets import CocoDetection, ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from ladon_ros.codec.preprocess import normalize, resize_rgb
from ladon_ros.data.source import DataSource
from ladon_ros.data.synthetic import CLASSES as SYNTHETIC_CLASSES
from ladon_ros.data.synthetic import SceneGenerator
from ladon_ros.models.spec import IMAGENET_MEAN, IMAGENET_STD

IGNORE_INDEX = -100  # segmentation pixels no loss sees (VOC's 255); F.cross_entropy's default
VOC_IGNORE = 255
BOX_SLACK_PX = 0.5  # boxes may pass the image edge by this much (rounding), then are clipped


class DataError(ValueError):
    """A dataset that cannot be used; the message names the file."""


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (PIL), or ``DataError`` naming it."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert('RGB'))
    except FileNotFoundError:
        raise DataError(f'{path}: image not found') from None
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f'{path}: not a readable image ({err})') from None


def image_size_of(path: Path) -> tuple[int, int]:
    """(width, height) from an image file's header (nothing decoded), or ``DataError`` naming it."""
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DataError(f'{path}: image not found') from None
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f'{path}: not a readable image ({err})') from None


def _pil_rgb(path: str):
    """ImageFolder's loader: PIL RGB, errors as ``DataError``."""
    return Image.fromarray(read_rgb(Path(path)))


def fit_to_input(image: np.ndarray, targets: dict, size: tuple[int, int]) -> tuple[np.ndarray, dict]:
    """Resizes an image and its targets to the model input ``size`` = (H, W), per axis.

    The image goes through the camera's own resize (``resize_rgb``), boxes are scaled,
    the segmentation map is resized nearest-neighbour (ids stay ids).
    """
    h, w = image.shape[:2]
    H, W = size
    out = dict(targets)
    if (h, w) == (H, W):
        return np.ascontiguousarray(image), out
    if 'boxes' in out:
        out['boxes'] = (out['boxes'] * np.array([W / w, H / h, W / w, H / h], np.float32)).astype(np.float32)
    if 'seg' in out:
        rows = np.minimum(((np.arange(H) + 0.5) * h / H).astype(np.int64), h - 1)
        cols = np.minimum(((np.arange(W) + 0.5) * w / W).astype(np.int64), w - 1)
        out['seg'] = out['seg'][rows[:, None], cols[None, :]]
    return resize_rgb(image, size), out


class LabelledImages(Dataset):
    """Base of the loaders: ``sample(i)`` (uint8 image + numpy targets at the input size) and
    ``__getitem__`` (normalised tensor + tensor targets, as ``SceneDataset``).

    Subclasses set ``tasks``, ``classes`` (task -> names) and ``name``, and implement
    ``__len__`` and ``_read(i)`` (native image and targets in its pixels).
    """

    tasks: tuple[str, ...] = ()
    classes: dict[str, tuple[str, ...]] = {}
    name: str = ''

    def __init__(self, image_size: tuple[int, int], mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.image_size = tuple(int(v) for v in image_size)
        self.mean, self.std = tuple(mean), tuple(std)

    def _read(self, index: int) -> tuple[np.ndarray, dict]:
        raise NotImplementedError

    def _check_len(self) -> None:
        if len(self) == 0:
            raise DataError(f'{self.name}: empty dataset (no images)')

    def sample(self, index: int) -> tuple[np.ndarray, dict]:
        """Item ``index``: (H, W, 3) uint8 image and targets, both at the input size."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        return fit_to_input(*self._read(index), self.image_size)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image, t = self.sample(index)
        out = {}
        if 'scene' in t:
            out['scene'] = torch.tensor(int(t['scene']), dtype=torch.int64)
        if 'boxes' in t:
            out['boxes'] = torch.from_numpy(np.asarray(t['boxes'], np.float32).reshape(-1, 4).copy())
            out['labels'] = torch.from_numpy(np.asarray(t['labels'], np.int64).copy())
        if 'seg' in t:
            out['seg'] = torch.from_numpy(np.asarray(t['seg']).astype(np.int64))
        return torch.from_numpy(normalize(image, self.mean, self.std)[0]), out


class SyntheticSet(LabelledImages):
    """A fixed set of ``count`` scenes (indices 0..count-1) of synthetic world ``seed``."""

    tasks = ('classification', 'detection', 'segmentation')

    def __init__(self, *, seed: int, count: int, image_size: tuple[int, int], **kw):
        super().__init__(image_size, **kw)
        self.generator = SceneGenerator(image_size=self.image_size, seed=seed)
        self.count = int(count)
        self.classes = {t: tuple(v) for t, v in SYNTHETIC_CLASSES.to_dict().items()}
        self.name = f'synthetic world {seed}'
        self._check_len()

    def __len__(self) -> int:
        return self.count

    def _read(self, index: int):
        s = self.generator.sample(index)
        return s.image, {'scene': s.scene_class, 'boxes': s.boxes, 'labels': s.box_labels,
                         'seg': s.seg.astype(np.int64)}


class ImageDir(LabelledImages):
    """Every image under ``root`` (recursively, sorted by path); no labels."""

    def __init__(self, root: str | Path, image_size: tuple[int, int], **kw):
        super().__init__(image_size, **kw)
        root = Path(root)
        if not root.is_dir():
            raise DataError(f'{root}: no such folder')
        self.name = str(root)
        self.files = sorted(p for p in root.rglob('*') if p.is_file()
                            and has_file_allowed_extension(p.name, IMG_EXTENSIONS))
        if not self.files:
            raise DataError(f'{root}: empty dataset (no {"/".join(IMG_EXTENSIONS[:4])}... images in it or below)')

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, index: int):
        return read_rgb(self.files[index]), {}


class _OrderedImageFolder(ImageFolder):
    """ImageFolder whose class ids follow ``classes.txt`` when the folder has one."""

    def find_classes(self, directory):
        listed = Path(directory) / 'classes.txt'
        if not listed.is_file():
            return super().find_classes(directory)
        names = [n.strip() for n in listed.read_text(encoding='utf-8').splitlines() if n.strip()]
        folders = {p.name for p in Path(directory).iterdir() if p.is_dir()}
        if len(set(names)) != len(names):
            raise DataError(f'{listed}: a class is listed twice')
        if folders - set(names):  # a listed class may have no folder (no images of it yet)
            raise DataError(f'{listed} does not list the class folder(s) {sorted(folders - set(names))}')
        return names, {n: i for i, n in enumerate(names)}


class ClassFolders(LabelledImages):
    """``root/<class>/<image>`` (torchvision ``ImageFolder``): classification labels."""

    tasks = ('classification',)

    def __init__(self, root: str | Path, image_size: tuple[int, int], **kw):
        super().__init__(image_size, **kw)
        root = Path(root)
        if not root.is_dir():
            raise DataError(f'{root}: no such folder')
        self.name = str(root)
        try:
            self.folder = _OrderedImageFolder(str(root), loader=_pil_rgb, allow_empty=True)
        except FileNotFoundError as err:  # ImageFolder: no class folders, or one without images
            raise DataError(f'{root}: empty dataset ({err})') from None
        self.classes = {'classification': tuple(self.folder.classes)}
        self._check_len()

    def __len__(self) -> int:
        return len(self.folder)

    def _read(self, index: int):
        image, label = self.folder[index]
        return np.asarray(image), {'scene': int(label)}


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


class VocSegmentationSet(LabelledImages):
    """VOC-style segmentation: ``JPEGImages/``, ``SegmentationClass/``, the split list, ``labels.txt``."""

    tasks = ('segmentation',)

    def __init__(self, root: str | Path, image_size: tuple[int, int], split: str = 'train', **kw):
        super().__init__(image_size, **kw)
        root = Path(root)
        self.name = str(root)
        labels = root / 'labels.txt'
        if not labels.is_file():
            raise DataError(f'{labels}: not found (class names in id order, one per line, background first)')
        names = tuple(n.strip() for n in labels.read_text(encoding='utf-8').splitlines() if n.strip())
        if len(names) < 2:
            raise DataError(f'{labels}: needs at least 2 classes (background first), got {len(names)}')
        self.classes = {'segmentation': names}
        masks_dir, image_dir = root / 'SegmentationClass', root / 'JPEGImages'
        listing = root / 'ImageSets' / 'Segmentation' / f'{split}.txt'
        if listing.is_file():
            ids = [s.strip() for s in listing.read_text(encoding='utf-8').splitlines() if s.strip()]
        else:
            ids = sorted(p.stem for p in masks_dir.glob('*.png')) if masks_dir.is_dir() else []
        self.items = []
        for i in ids:
            mask = masks_dir / f'{i}.png'
            if not mask.is_file():
                raise DataError(f'{mask}: mask not found (listed in {listing.name})')
            image = next((image_dir / f'{i}{e}' for e in ('.jpg', '.jpeg', '.png', '.JPG', '.PNG')
                          if (image_dir / f'{i}{e}').is_file()), None)
            if image is None:
                raise DataError(f'{image_dir / i}.jpg: image not found (for mask {mask})')
            self._check_mask(image, mask)
            self.items.append((image, mask))
        self._check_len()

    @staticmethod
    def _check_mask(image: Path, mask: Path) -> None:
        """Mode and size of a mask against its image, from the headers (nothing decoded)."""
        try:
            with Image.open(mask) as m:
                mode, size = m.mode, m.size
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f'{mask}: not a readable PNG ({err})') from None
        if mode not in ('P', 'L'):
            raise DataError(f'{mask}: mask must be a palette or grey PNG of class ids, not mode {mode}')
        if size != image_size_of(image):
            raise DataError(f'{mask}: mask is {size[0]}x{size[1]}, its image {image.name} is '
                            f'{"x".join(map(str, image_size_of(image)))}')

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, index: int):
        image_path, mask_path = self.items[index]
        image = read_rgb(image_path)
        with Image.open(mask_path) as m:  # mode and size were checked when the set was opened
            seg = np.asarray(m).astype(np.int64)
        k = len(self.classes['segmentation'])
        bad = (seg >= k) & (seg != VOC_IGNORE)
        if bad.any():
            raise DataError(f'{mask_path}: class id {int(seg[bad].max())} but labels.txt names {k} classes')
        seg[seg == VOC_IGNORE] = IGNORE_INDEX
        return image, {'seg': seg}


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
