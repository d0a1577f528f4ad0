"""VOC-style segmentation sets: the ``VOCSegmentation`` layout, read with PIL."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ladon_ros.data.labelled import IGNORE_INDEX, DataError, LabelledImages, image_size_of, read_rgb

VOC_IGNORE = 255  # VOC's "void" pixels (object borders): mapped to IGNORE_INDEX


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
