"""Camera image -> model input: resize to the model's input size, normalise."""
from __future__ import annotations

import cv2
import numpy as np


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes an (H, W, 3) uint8 image to ``size`` = (height, width), per axis.

    The model sees a fixed input size, so boxes and masks are scaled back per axis.
    Area interpolation when shrinking avoids aliasing; linear when enlarging.
    """
    h, w = size
    if rgb.shape[:2] == (h, w):
        return np.ascontiguousarray(rgb)
    shrink = rgb.shape[0] > h or rgb.shape[1] > w
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def normalize(rgb: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(H, W, 3) or (B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32, ``(x/255 - mean)/std``."""
    x = rgb.astype(np.float32) * (1.0 / 255.0)
    if x.ndim == 3:
        x = x[None]
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_tensor(rgb: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> 'torch.Tensor':
    """``normalize`` as a torch tensor."""
    import torch  # lazily: the torch-free camera (ONNX back end) uses resize_rgb only
    return torch.from_numpy(normalize(rgb, mean, std))
