"""Image folders: any folder of images (no labels), ImageFolder class folders, and a fixed
set of synthetic scenes through the same interface."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from ladon_ros.data.labelled import DataError, LabelledImages, read_rgb
from ladon_ros.world import CLASSES as SYNTHETIC_CLASSES
from ladon_ros.world import SceneGenerator


def _pil_rgb(path: str):
    """ImageFolder's loader: PIL RGB, errors as ``DataError``."""
    return Image.fromarray(read_rgb(Path(path)))


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


def _folder(root: str | Path) -> Path:
    """``root`` as a Path; ``DataError`` naming it when it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f'{root}: no such folder')
    return root


class ImageDir(LabelledImages):
    """Every image under ``root`` (recursively, sorted by path); no labels."""

    def __init__(self, root: str | Path, image_size: tuple[int, int], **kw):
        super().__init__(image_size, **kw)
        root = _folder(root)
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
        root = _folder(root)
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
