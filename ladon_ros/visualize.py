"""Pictures of results for people (RViz debug image, demo PNGs). Pure numpy + OpenCV, no ROS."""
from __future__ import annotations

import cv2
import numpy as np

from ladon_ros.results import FrameResults


def label_palette(n: int = 256) -> np.ndarray:
    """(n, 3) uint8 RGB colours, PASCAL-VOC style (bits of the id spread over R, G, B); id 0 is black."""
    ids = np.arange(n)
    pal = np.zeros((n, 3), np.int64)
    for bit in range(8):
        for ch in range(3):
            pal[:, ch] |= ((ids >> (3 * bit + ch)) & 1) << (7 - bit)
    return pal.astype(np.uint8)


_PALETTE = label_palette()


def colorize_labels(labels: np.ndarray) -> np.ndarray:
    """(H, W) uint8 label ids -> (H, W, 3) uint8 RGB colours."""
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f'expected (H, W) uint8 labels, got {labels.shape} {labels.dtype}')
    return _PALETTE[labels]


def blend_mask(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Tints every non-background pixel (label != 0) of ``rgb`` with its class colour.

    Args:
        rgb: (H, W, 3) uint8 image.
        labels: (H, W) uint8 label ids of the same size.
        alpha: Opacity of the colour, 0..1.
    """
    if rgb.shape[:2] != labels.shape:
        raise ValueError(f'image {rgb.shape[:2]} and mask {labels.shape} differ in size')
    out = rgb.copy()
    fg = labels != 0
    if fg.any():
        mixed = (1 - alpha) * rgb[fg].astype(np.float32) + alpha * colorize_labels(labels)[fg].astype(np.float32)
        out[fg] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


def bright(colour) -> tuple[int, int, int]:
    """A palette colour scaled so its largest channel is 255 (VOC's 128-level colours are dark)."""
    c = np.asarray(colour, np.float32)
    return tuple(int(v) for v in np.round(c * (255.0 / max(1.0, float(c.max())))))


def outline_mask(rgb: np.ndarray, labels: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Draws the outline of every labelled region in its class colour (brightened), in place."""
    for label in np.unique(labels):
        if label == 0:
            continue
        contours, _ = cv2.findContours((labels == label).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(rgb, contours, -1, bright(_PALETTE[label]), thickness, cv2.LINE_8)
    return rgb


def annotate(rgb: np.ndarray, results: FrameResults, alpha: float = 0.5) -> np.ndarray:
    """The debug image: mask blended and outlined, detection boxes with class + score, top-1 class."""
    out = blend_mask(rgb, results.segmentation, alpha)
    h, w = out.shape[:2]
    scale = max(0.35, min(h, w) / 600)
    thick = max(1, round(scale * 2))
    outline_mask(out, results.segmentation, thick)
    for det in results.detections:
        x1, y1 = int(round(det.center_x - det.size_x / 2)), int(round(det.center_y - det.size_y / 2))
        x2, y2 = int(round(det.center_x + det.size_x / 2)), int(round(det.center_y + det.size_y / 2))
        colour = bright(_PALETTE[(det.hypothesis.class_index % 255) + 1])
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        _text(out, f'{det.hypothesis.class_name} {det.hypothesis.score:.2f}', (x1, max(y1 - 3, 10)), scale, colour)
    if results.classification:
        top = results.classification[0]
        _text(out, f'scene: {top.class_name} {top.score:.2f}', (4, int(14 * scale / 0.35)), scale, (255, 255, 255))
    return out


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour) -> None:
    # Dark outline first so the label stays readable on any background.
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
