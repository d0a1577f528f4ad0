"""The common part of the dataset loaders: one item = a normalised image at the model's
input size + the targets its dataset labels (as the synthetic ``SceneDataset`` gives them).

Bad data raises ``DataError``, whose message names the file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ladon_ros.codec.preprocess import normalize, resize_rgb
from ladon_ros.models.spec import IMAGENET_MEAN, IMAGENET_STD

IGNORE_INDEX = -100  # segmentation pixels no loss sees (VOC's 255); F.cross_entropy's default


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
