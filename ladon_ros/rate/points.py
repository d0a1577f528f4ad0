"""Rate points as camera-encoder settings, and measuring what each costs (no ROS).

A point is written ``codec=ladon,checkpoint=/path/x.safetensors`` or
``codec=jpeg,quality=50``: the ``camera_encoder`` parameters to set. ``calibrate``
encodes a real camera image with every point once, so the policy knows the bytes and
camera compute of each on the scene the robot actually sees.
"""
from __future__ import annotations

import time

import numpy as np

from ladon_ros.rate.policy import RatePoint

_TYPES = {'codec': str, 'checkpoint': str, 'quality': int}


def parse_point(spec: str) -> dict[str, object]:
    """``'codec=jpeg,quality=50'`` -> ``{'codec': 'jpeg', 'quality': 50}`` (validated keys).

    Raises:
        ValueError: Unknown key, missing codec, bad value.
    """
    out: dict[str, object] = {}
    for part in (p.strip() for p in spec.split(',') if p.strip()):
        key, sep, value = part.partition('=')
        if not sep or key not in _TYPES:
            raise ValueError(f'bad rate point {spec!r}: expected key=value with keys {sorted(_TYPES)}')
        try:
            out[key] = _TYPES[key](value)
        except ValueError:
            raise ValueError(f'bad rate point {spec!r}: {key} must be {_TYPES[key].__name__}') from None
    if 'codec' not in out:
        raise ValueError(f'rate point {spec!r} has no codec')
    if out['codec'] == 'ladon' and not out.get('checkpoint'):
        raise ValueError(f'rate point {spec!r}: a ladon point needs checkpoint=...')
    return out


def point_spec(params: dict[str, object]) -> str:
    """Inverse of ``parse_point``."""
    return ','.join(f'{k}={params[k]}' for k in ('codec', 'quality', 'checkpoint') if k in params)


def frame_identity(spec: str) -> tuple[str, float]:
    """(codec, rate_point) that frames of this point carry (``LatentFrame``/``FrameStats``)."""
    from ladon_ros.codec.image_codecs import DEFAULT_QUALITY
    p = parse_point(spec)
    if p['codec'] == 'ladon':
        from ladon_ros.checkpoint import read_metadata
        return 'ladon', float(read_metadata(p['checkpoint']).rate_point)
    return str(p['codec']), float(p.get('quality', DEFAULT_QUALITY.get(str(p['codec']), 0)))


def calibrate(specs: list[str], rgb: np.ndarray, *, edge_ms: float = 0.0, repeats: int = 2) -> list[RatePoint]:
    """Encodes ``rgb`` with every point; returns ``RatePoint``s (bytes, best-of-``repeats`` encode time).

    Args:
        specs: Point specs (see ``parse_point``).
        rgb: A camera image (H, W, 3) uint8.
        edge_ms: Edge compute estimate, the same for every point until measured.
        repeats: Encodes per point (the first also loads lazily-built tables).
    """
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.weights import default_checkpoint
    points = []
    for spec in specs:
        p = parse_point(spec)
        ckpt = p.get('checkpoint') or default_checkpoint('ladon')
        kwargs = {'codec': p['codec'], 'checkpoint': ckpt}
        if 'quality' in p:
            kwargs['quality'] = p['quality']
        enc = make_camera_encoder(**kwargs)
        best, nbytes = float('inf'), 0
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            frame = enc.encode(rgb)
            best = min(best, (time.perf_counter() - t0) * 1e3)
            nbytes = len(frame.payload)
        points.append(RatePoint(spec, float(nbytes), best, edge_ms))
    return points
