"""A deterministic procedural multi-task world: scene class, object boxes and per-pixel labels.

No dataset can be downloaded here, so the embedded default is trained and evaluated on
scenes drawn by this generator. One scene has:

- a scene-level class (the environment: warehouse, field, road, ...) that sets the
  background layout, texture and palette (classification). Each of the six base
  environments has a twin (hangar, meadow, highway, jungle, shingle, lab) with the same
  layout and palette plus one fine, high-frequency detail (corrugation, flower dots,
  thin edge lines, leaf speckle, pebbles, a floor mesh) of a few pixels' period, so that
  telling the twins apart needs the detail a heavily compressed image loses;
- 0..7 objects of five shape/texture classes with colour variation, a wide scale range
  and mutual occlusion (detection: tight boxes of the *visible* part);
- per-pixel labels (segmentation: 0 = background, else the object class).

Distractor clutter (lines, blobs, polygons in object-like colours), lighting changes,
blur and sensor noise keep it from being trivial for the networks or for JPEG.
Everything is a function of ``(seed, index)``: the same pair always gives the same scene.

Runtime, not a tool: the ``synthetic`` image source (the default camera) draws this world,
and ``CLASSES`` is the label map the shipped weights predict; training reads it through
``ladon_ros.data``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from ladon_ros.tasks import TaskClasses

SCENES = ('warehouse', 'field', 'road', 'forest', 'beach', 'office',
          'hangar', 'meadow', 'highway', 'jungle', 'shingle', 'lab')
# Each twin is drawn as its base environment (layout, palette, object prior) plus its fine
# detail (``_fine_detail``): only that detail tells the two apart.
_TWIN_OF = {'hangar': 'warehouse', 'meadow': 'field', 'highway': 'road', 'jungle': 'forest',
            'shingle': 'beach', 'lab': 'office'}
OBJECTS = ('crate', 'barrel', 'cone', 'person', 'sign')

CLASSES = TaskClasses(
    classification=SCENES,
    detection=('__background__',) + OBJECTS,
    segmentation=('background',) + OBJECTS,
)

# How often each object class appears per scene (rows: SCENES, cols: OBJECTS). Mildly
# scene-dependent, so context helps but never decides.
_OBJECT_PRIOR = np.array([
    [3, 3, 1, 2, 1],   # warehouse
    [1, 1, 1, 2, 2],   # field
    [1, 1, 3, 2, 3],   # road
    [1, 2, 1, 2, 1],   # forest
    [1, 2, 2, 3, 1],   # beach
    [3, 1, 1, 3, 1],   # office
], dtype=np.float64)
_OBJECT_PRIOR = np.concatenate([_OBJECT_PRIOR, _OBJECT_PRIOR[[SCENES.index(b) for b in _TWIN_OF.values()]]])
_OBJECT_PRIOR /= _OBJECT_PRIOR.sum(axis=1, keepdims=True)

# Base colours (RGB) per scene: (upper region, lower region, texture accent).
_PALETTE = {
    'warehouse': ((120, 125, 135), (150, 148, 140), (60, 70, 90)),
    'field': ((150, 190, 230), (70, 130, 50), (40, 95, 30)),
    'road': ((160, 185, 215), (70, 72, 75), (235, 235, 225)),
    'forest': ((50, 80, 45), (80, 65, 40), (25, 45, 25)),
    'beach': ((140, 195, 240), (220, 200, 150), (40, 110, 170)),
    'office': ((215, 205, 180), (150, 110, 70), (100, 70, 40)),
}


@dataclass(frozen=True)
class Scene:
    """One generated scene.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        scene_class: Index into ``CLASSES.classification``.
        boxes: (N, 4) float32 xyxy in pixels (tight around each object's visible part).
        box_labels: (N,) int64 in 1..K (index into ``CLASSES.detection``; 0 = background).
        seg: (H, W) uint8 label ids (index into ``CLASSES.segmentation``).
    """

    image: np.ndarray
    scene_class: int
    boxes: np.ndarray
    box_labels: np.ndarray
    seg: np.ndarray


def _jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    """A colour near ``rgb`` (each channel moved by up to ``amount`` * 255)."""
    return np.clip(np.asarray(rgb, np.float32) + rng.uniform(-amount, amount, 3) * 255, 0, 255)


def _random_colour(rng: np.random.Generator, hue: tuple[int, int] | None = None) -> np.ndarray:
    """A saturated RGB colour; ``hue`` in OpenCV degrees/2 (0..180), wrapping allowed."""
    lo, hi = hue if hue is not None else (0, 180)
    h = int(rng.integers(lo, hi + 1)) % 180
    s = int(rng.integers(110, 256))
    v = int(rng.integers(110, 256))
    hsv = np.array([[[h, s, v]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _low_freq(rng: np.random.Generator, h: int, w: int, cells: int, amp: float) -> np.ndarray:
    """Smooth random field in [-amp, amp], (h, w) float32 (cheap: upsampled coarse noise)."""
    coarse = rng.uniform(-amp, amp, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def _background(rng: np.random.Generator, scene: str, h: int, w: int) -> np.ndarray:
    """Environment background, (h, w, 3) float32 0..255 (a twin: its base's, plus its detail)."""
    twin = scene if scene in _TWIN_OF else None
    scene = _TWIN_OF.get(scene, scene)
    top, bottom, accent = (_jitter(rng, c, 0.12) for c in _PALETTE[scene])
    img = np.empty((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.2, 0.55))
    img[:horizon] = top
    img[horizon:] = bottom
    s = min(h, w)
    if scene == 'warehouse':
        # Shelving on the back wall: uprights and beams; concrete floor seams.
        for x in range(int(rng.integers(0, s // 6)), w, max(8, int(s * rng.uniform(0.15, 0.3)))):
            cv2.rectangle(img, (x, 0), (x + max(2, s // 64), horizon), accent.tolist(), -1)
        for y in range(int(horizon * 0.2), horizon, max(6, int(s * 0.08))):
            cv2.line(img, (0, y), (w, y), (accent * 1.4).tolist(), max(1, s // 128))
        for x in range(0, w, max(8, s // 4)):
            cv2.line(img, (w // 2 + (x - w // 2) // 3, horizon), (x, h), (accent * 1.2).tolist(), 1)
    elif scene == 'field':
        for _ in range(int(s * 0.8)):
            x, y = int(rng.integers(0, w)), int(rng.integers(horizon, h))
            ln = int(3 + (y - horizon) / max(1, h - horizon) * s * 0.06)
            col = _jitter(rng, accent if rng.random() < 0.5 else bottom * 1.2, 0.08)
            cv2.line(img, (x, y), (x + int(rng.integers(-2, 3)), y - ln), col.tolist(), 1)
        for _ in range(int(rng.integers(0, 4))):  # clouds
            c = (int(rng.integers(0, w)), int(rng.integers(0, max(1, horizon))))
            cv2.ellipse(img, c, (int(s * rng.uniform(0.05, 0.15)), int(s * 0.03) + 1), 0, 0, 360,
                        (235, 240, 245), -1)
    elif scene == 'road':
        vx = int(w * rng.uniform(0.3, 0.7))
        sidewalk = _jitter(rng, (180, 170, 150), 0.08).tolist()
        cv2.fillPoly(img, [np.array([[0, h], [0, horizon], [vx - s // 16, horizon], [int(w * 0.1), h]])], sidewalk)
        cv2.fillPoly(img, [np.array([[w, h], [w, horizon], [vx + s // 16, horizon], [int(w * 0.9), h]])], sidewalk)
        lane = (235, 210, 60) if rng.random() < 0.4 else accent.tolist()
        n = 8
        for i in range(0, n, 2):  # dashed centre line in perspective
            y0 = horizon + (h - horizon) * (i / n) ** 1.5
            y1 = horizon + (h - horizon) * ((i + 1) / n) ** 1.5
            cv2.line(img, (vx, int(y0)), (vx, int(y1)), lane, max(1, int(1 + 3 * (i / n))))
    elif scene == 'forest':
        for _ in range(int(rng.integers(4, 10))):  # trunks
            x = int(rng.integers(0, w))
            cv2.rectangle(img, (x, 0), (x + int(s * rng.uniform(0.02, 0.07)), h),
                          _jitter(rng, (90, 60, 35), 0.08).tolist(), -1)
        for _ in range(int(s * 0.25)):  # foliage blobs
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(img, c, int(rng.integers(2, max(3, s // 12))),
                       _jitter(rng, accent if rng.random() < 0.6 else (70, 110, 50), 0.1).tolist(), -1)
    elif scene == 'beach':
        sea_end = horizon + int((h - horizon) * rng.uniform(0.15, 0.4))
        img[horizon:sea_end] = accent
        xs = np.arange(w)
        for k in range(3):
            y = horizon + (sea_end - horizon) * (k + 1) // 4
            ph, fr = rng.uniform(0, 6.28), rng.uniform(0.03, 0.1) * 256 / s
            pts = np.stack([xs, y + 2 * np.sin(xs * fr + ph)], 1).astype(np.int32)
            cv2.polylines(img, [pts], False, (230, 240, 250), 1)
        img[sea_end:] += _low_freq(rng, h - sea_end, w, 24, 18)[..., None]
    elif scene == 'office':
        tile = max(6, int(s * rng.uniform(0.06, 0.14)))
        yy, xx = np.mgrid[horizon:h, 0:w]
        checker = ((yy // tile + xx // tile) % 2).astype(np.float32)[..., None]
        img[horizon:] = bottom * (0.85 + 0.3 * checker)
        for _ in range(int(rng.integers(1, 3))):  # windows / boards on the wall
            x0, y0 = int(rng.integers(0, w - s // 5)), int(rng.integers(0, max(1, horizon - s // 8)))
            cv2.rectangle(img, (x0, y0), (x0 + int(s * rng.uniform(0.15, 0.3)), y0 + int(s * 0.12)),
                          _jitter(rng, (190, 215, 235), 0.1).tolist(), -1)
    if twin is not None:
        _fine_detail(rng, twin, img, horizon)
    # Large-scale texture on everything (dirt, shade) so flat areas are not free for JPEG.
    img += _low_freq(rng, h, w, 8, 22)[..., None]
    img += _low_freq(rng, h, w, 48, 10)[..., None] * rng.uniform(0.5, 1.5)
    return img


def _fine_detail(rng: np.random.Generator, twin: str, img: np.ndarray, horizon: int) -> None:
    """The twin's fine detail, in place: periods of 3-4 px and dots of 1 px at moderate
    contrast (18-45 levels), about what JPEG at low quality or WebP at its lowest smooths
    away, while the sensor noise (sigma <= 7) and blur (sigma <= 0.8 px at 128 px) of
    ``_photometric`` leave it visible to a network on the raw frame. Zero mean (up to the
    thin lines), so the twin's average colour gives nothing away."""
    h, w = img.shape[:2]
    amp = float(rng.uniform(18, 45))
    period = int(rng.integers(3, 5))
    if twin == 'hangar':  # corrugated wall: fine vertical ribs above the horizon
        ribs = np.where(np.arange(w) % period == 0, -amp, amp / (period - 1)).astype(np.float32)
        img[:horizon] += ribs[None, :, None]
    elif twin == 'lab':  # anti-slip mesh on the floor: a fine grid over the tiles
        yy, xx = np.mgrid[horizon:h, 0:w]
        mesh = ((yy % period == 0) | (xx % period == 0)).astype(np.float32)
        img[horizon:] -= (amp * (mesh - mesh.mean()))[..., None]
    elif twin == 'highway':  # thin solid edge lines, one pixel wide, in perspective
        vx = w // 2 + int(rng.integers(-w // 6, w // 6 + 1))
        col = np.clip(img[min(h - 1, horizon + 1), vx] + amp * 2.5, 0, 255).tolist()
        for x_bottom in (int(w * rng.uniform(0.12, 0.3)), int(w * rng.uniform(0.7, 0.88))):
            cv2.line(img, (vx, horizon), (x_bottom, h), col, 1)
    else:  # one-pixel dots, light or dark: flowers in grass, leaves in foliage, pebbles on sand
        y0 = 0 if twin == 'jungle' else horizon
        n = int((h - y0) * w * rng.uniform(0.04, 0.08))
        ys, xs = rng.integers(y0, h, n), rng.integers(0, w, n)
        tint = {'meadow': (1.0, 0.9, 0.3), 'jungle': (0.6, 1.0, 0.4), 'shingle': (1.0, 1.0, 1.0)}[twin]
        sign = rng.choice(np.array([-1.0, 1.0], np.float32), n)
        img[ys, xs] += (sign * amp * 1.5)[:, None] * np.asarray(tint, np.float32)


def _clutter(rng: np.random.Generator, img: np.ndarray) -> None:
    """Distractors (background class) in object-like colours: lines, blobs, small polygons."""
    h, w = img.shape[:2]
    s = min(h, w)
    for _ in range(int(rng.integers(2, 10))):
        col = _random_colour(rng).tolist()
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if kind == 0:
            cv2.line(img, (x, y), (x + int(rng.integers(-s // 3, s // 3)), y + int(rng.integers(-s // 3, s // 3))),
                     col, int(rng.integers(1, 4)))
        elif kind == 1:
            cv2.ellipse(img, (x, y), (int(rng.integers(2, s // 14 + 3)), int(rng.integers(2, s // 20 + 3))),
                        float(rng.uniform(0, 180)), 0, 360, col, -1)
        else:
            pts = np.stack([x + rng.integers(-s // 16, s // 16 + 1, 5), y + rng.integers(-s // 16, s // 16 + 1, 5)], 1)
            cv2.fillPoly(img, [pts.astype(np.int32)], col)


@dataclass(frozen=True)
class _Box:
    """Where an object goes [px, float]: centre, size, extent; a kind may widen or cut it."""

    cx: float
    cy: float
    bw: float
    bh: float
    size: float
    x0: float
    y0: float
    x1: float
    y1: float


# A kind draws its silhouette (value 1) into the mask and returns its base colour, its box
# and texture strokes, painted into the object's patch and kept inside the silhouette:
# ('line', p0, p1, colour, thickness) | ('ring', centre, radius, colour) | ('below', y, colour)
# (recolours the patch from image row y down).

def _crate(rng: np.random.Generator, b: _Box, mask: np.ndarray):
    base = _random_colour(rng, (8, 22)) if rng.random() < 0.7 else _random_colour(rng)
    x0, y0, x1, y1 = b.x0, b.y0, b.x1, b.y1
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
    dark = (base * 0.55).tolist()
    t = max(1, int(b.size / 14))
    strokes = []
    for k in range(1, 4):  # planks
        yk = y0 + (y1 - y0) * k / 4
        strokes.append(('line', (x0, yk), (x1, yk), dark, max(1, t // 2)))
    edges = [((x0, y0), (x1, y1)), ((x0, y1), (x1, y0)),  # cross braces, then the frame
             ((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))]
    strokes += [('line', p0, p1, dark, t) for p0, p1 in edges]
    return base, b, strokes


def _barrel(rng: np.random.Generator, b: _Box, mask: np.ndarray):
    base = _random_colour(rng, (95, 125)) if rng.random() < 0.5 else _random_colour(rng)
    r = (b.x1 - b.x0) / 2
    cv2.ellipse(mask, (int(b.cx), int(b.y0 + r * 0.3)), (int(r), max(1, int(r * 0.3))), 0, 0, 360, 1, -1)
    cv2.rectangle(mask, (int(b.x0), int(b.y0 + r * 0.3)), (int(b.x1), int(b.y1 - r * 0.3)), 1, -1)
    cv2.ellipse(mask, (int(b.cx), int(b.y1 - r * 0.3)), (int(r), max(1, int(r * 0.3))), 0, 0, 360, 1, -1)
    dark = (base * 0.45).tolist()
    strokes = []
    for k in (1, 2):  # hoops
        yk = b.y0 + (b.y1 - b.y0) * k / 3
        strokes.append(('line', (b.x0, yk), (b.x1, yk), dark, max(1, int(b.size / 16))))
    return base, b, strokes


def _cone(rng: np.random.Generator, b: _Box, mask: np.ndarray):
    base = _random_colour(rng, (2, 14)) if rng.random() < 0.7 else _random_colour(rng, (20, 30))
    pts = np.array([[b.cx, b.y0], [b.x1, b.y1 - b.bh * 0.08], [b.x0, b.y1 - b.bh * 0.08]])
    cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
    cv2.rectangle(mask, (int(b.x0 - b.bw * 0.1), int(b.y1 - b.bh * 0.1)), (int(b.x1 + b.bw * 0.1), int(b.y1)), 1, -1)
    b = dataclasses.replace(b, x0=b.x0 - b.bw * 0.1, x1=b.x1 + b.bw * 0.1)  # the foot is wider
    strokes = []
    for frac in (0.35, 0.6):  # reflective bands
        yk = b.y0 + b.bh * frac
        strokes.append(('line', (b.x0, yk), (b.x1, yk), (245, 245, 245), max(1, int(b.bh / 10))))
    return base, b, strokes


def _person(rng: np.random.Generator, b: _Box, mask: np.ndarray):
    base = _random_colour(rng)
    bw = b.bw * 0.5  # people are narrow
    b = dataclasses.replace(b, bw=bw, x0=b.cx - bw / 2, x1=b.cx + bw / 2)
    cx, y0, bh = b.cx, b.y0, b.bh
    head_r = max(1, int(bw * 0.32))
    skin = _jitter(rng, (200, 160, 130) if rng.random() < 0.5 else (120, 85, 60), 0.06).tolist()
    cv2.circle(mask, (int(cx), int(y0 + head_r)), head_r, 1, -1)
    cv2.rectangle(mask, (int(b.x0), int(y0 + 2 * head_r)), (int(b.x1), int(y0 + bh * 0.62)), 1, -1)
    leg = max(1, int(bw * 0.18))
    cv2.rectangle(mask, (int(cx - bw * 0.35), int(y0 + bh * 0.6)), (int(cx - bw * 0.35) + 2 * leg, int(b.y1)), 1, -1)
    cv2.rectangle(mask, (int(cx + bw * 0.35) - 2 * leg, int(y0 + bh * 0.6)), (int(cx + bw * 0.35), int(b.y1)), 1, -1)
    trousers = _jitter(rng, (40, 45, 70), 0.1).tolist()
    strokes = [('line', (cx, y0 + head_r), (cx, y0 + head_r), skin, 2 * head_r + 1),  # face/head
               ('below', y0 + bh * 0.62, trousers)]  # legs
    return base, b, strokes


def _sign(rng: np.random.Generator, b: _Box, mask: np.ndarray):
    """A pole with a diamond, octagonal or round plate, its border and a symbol."""
    base = _random_colour(rng, (0, 8)) if rng.random() < 0.5 else _random_colour(rng, (18, 32))
    cx, bw = b.cx, b.bw
    plate_r = bw * 0.45
    pcy = b.y0 + plate_r
    shape = rng.integers(0, 3)
    t = max(1, int(plate_r / 6))
    white = (240, 240, 240)
    if shape == 2:
        cv2.circle(mask, (int(cx), int(pcy)), max(1, int(plate_r)), 1, -1)
        strokes = [('ring', (cx, pcy), int(plate_r), white)]
    else:
        ang = np.linspace(0, 2 * np.pi, 9 if shape == 1 else 5)[:-1] + (np.pi / 8 if shape == 1 else 0)
        pts = np.stack([cx + plate_r * np.cos(ang), pcy + plate_r * np.sin(ang)], 1)
        cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
        strokes = [('line', tuple(pts[i]), tuple(pts[(i + 1) % len(pts)]), white, t) for i in range(len(pts))]
    cv2.rectangle(mask, (int(cx - bw * 0.05), int(pcy + plate_r * 0.9)), (int(cx + bw * 0.05), int(b.y1)), 1, -1)
    strokes.append(('line', (cx - plate_r * 0.4, pcy), (cx + plate_r * 0.4, pcy), (30, 30, 30), t))
    strokes.append(('below', b.y0 + bw * 0.45 * 1.9, (110, 110, 115)))  # the pole's colour
    return base, dataclasses.replace(b, y1=b.y0 + b.bh), strokes


_KINDS = {'crate': _crate, 'barrel': _barrel, 'cone': _cone, 'person': _person, 'sign': _sign}


def _draw_object(rng: np.random.Generator, cls: int, img: np.ndarray, mask: np.ndarray) -> None:
    """Draws object class ``cls`` (1..5) into ``img`` and its silhouette (value 1) into ``mask``.

    ``mask`` must be all zero on entry; ``img`` is float32 0..255.
    """
    h, w = img.shape[:2]
    s = min(h, w)
    size = s * float(np.exp(rng.uniform(np.log(0.09), np.log(0.45))))  # log-uniform scale range
    aspect = rng.uniform(0.75, 1.3)
    bw, bh = size * aspect, size / aspect
    cx, cy = rng.uniform(-0.1 * bw, w + 0.1 * bw), rng.uniform(0.1 * h, h + 0.1 * bh)
    box = _Box(cx, cy, bw, bh, size, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
    base, box, strokes = _KINDS[OBJECTS[cls - 1]](rng, box, mask)
    _paint(rng, img, mask, box, base, strokes)


def _paint(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, b: _Box, base: np.ndarray,
           strokes: list[tuple]) -> None:
    """Fills the silhouette in ``mask`` with the shaded, textured object colour."""
    h, w = img.shape[:2]
    ix0, iy0 = max(0, int(np.floor(min(b.x0, b.cx - b.bw / 2)))), max(0, int(np.floor(b.y0)))
    ix1, iy1 = min(w, int(np.ceil(max(b.x1, b.cx + b.bw / 2))) + 1), min(h, int(np.ceil(b.y1)) + 1)
    if ix1 <= ix0 or iy1 <= iy0:
        return
    sub_m = mask[iy0:iy1, ix0:ix1] > 0
    if not sub_m.any():
        return
    # Base colour with a shading gradient across the object (light from a random side).
    yy, xx = np.mgrid[iy0:iy1, ix0:ix1].astype(np.float32)
    d = rng.uniform(-1, 1, 2)
    shade = 1.0 + 0.35 * (d[0] * (xx - b.cx) + d[1] * (yy - b.cy)) / max(b.size, 1.0)
    patch = np.clip(base[None, None] * shade[..., None], 0, 255)
    patch += _low_freq(rng, iy1 - iy0, ix1 - ix0, 4, 14)[..., None]
    off = np.array([ix0, iy0], np.float64)
    for kind, *args in strokes:
        if kind == 'below':
            y, col = args
            patch[int(max(0, y - iy0)):] = col
        elif kind == 'ring':
            (x, y), r, col = args
            cv2.circle(patch, (int(x - ix0), int(y - iy0)), r, col, max(1, int(r / 6)))
        else:
            p0, p1, col, th = args
            a = (np.asarray(p0) - off).astype(int)
            e = (np.asarray(p1) - off).astype(int)
            cv2.line(patch, tuple(int(v) for v in a), tuple(int(v) for v in e), col, int(th))
    region = img[iy0:iy1, ix0:ix1]
    region[sub_m] = patch[sub_m]


class SceneGenerator:
    """Deterministic scene generator: ``sample(index)`` depends only on ``(seed, index)``.

    Args:
        image_size: (height, width) in pixels.
        seed: World seed; use different seeds for training and held-out evaluation.
        max_objects: Upper bound on objects drawn per scene (occluded ones may lose their box).
    """

    def __init__(self, *, image_size: tuple[int, int] = (256, 256), seed: int = 0, max_objects: int = 7):
        h, w = (int(v) for v in image_size)
        if h < 32 or w < 32:
            raise ValueError(f'image_size must be at least 32x32, got {image_size}')
        if max_objects < 0:
            raise ValueError('max_objects must be >= 0')
        self.image_size = (h, w)
        self.seed = int(seed)
        self.max_objects = int(max_objects)

    def sample(self, index: int) -> Scene:
        """The scene number ``index`` of this world (any non-negative int)."""
        if index < 0:
            raise ValueError('index must be >= 0')
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, int(index), 0x1ADD])
        h, w = self.image_size
        scene_class = int(rng.integers(0, len(SCENES)))
        img = _background(rng, SCENES[scene_class], h, w)
        _clutter(rng, img)
        inst = np.zeros((h, w), np.uint8)  # instance id (1-based) per pixel, last drawn on top
        n = int(rng.integers(0 if rng.random() < 0.05 else 1, self.max_objects + 1))
        classes = rng.choice(len(OBJECTS), size=n, p=_OBJECT_PRIOR[scene_class]) + 1
        full_area = np.zeros(n, np.int64)
        mask = np.zeros((h, w), np.uint8)
        # Painter's order: later objects occlude earlier ones (their hidden pixels are not theirs).
        for k, cls in enumerate(classes):
            mask.fill(0)
            _draw_object(rng, int(cls), img, mask)
            full_area[k] = int(np.count_nonzero(mask))
            inst[mask > 0] = k + 1
        seg = np.zeros((h, w), np.uint8)
        boxes, labels = [], []
        min_area = max(12, int(0.0004 * h * w))
        for k, cls in enumerate(classes):
            vis = (inst == k + 1)
            area = int(np.count_nonzero(vis))
            if area == 0:
                continue
            seg[vis] = cls
            if area >= min_area and area >= 0.25 * full_area[k]:
                x, y, bw, bh = cv2.boundingRect(vis.view(np.uint8))
                if bw >= 3 and bh >= 3:
                    boxes.append((x, y, x + bw, y + bh))
                    labels.append(int(cls))
        img = _photometric(rng, img)
        return Scene(
            image=img, scene_class=scene_class,
            boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
            box_labels=np.asarray(labels, np.int64), seg=seg)


def _photometric(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Lighting (gain, gradient, tint), optional blur and sensor noise -> uint8."""
    h, w = img.shape[:2]
    gain = rng.uniform(0.6, 1.25)
    d = rng.uniform(-1, 1, 2)
    ramp = (d[0] * np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
            + d[1] * np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]) * rng.uniform(0.0, 0.6)
    tint = 1.0 + rng.uniform(-0.08, 0.08, 3).astype(np.float32)
    img *= ((gain + ramp)[..., None] * tint)
    if rng.random() < 0.4:
        sigma = rng.uniform(0.4, 1.6) * min(h, w) / 256
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise_sigma = rng.uniform(1.0, 7.0)
    img += rng.standard_normal((h, w, 3), dtype=np.float32) * noise_sigma
    return np.clip(img, 0, 255).astype(np.uint8)
