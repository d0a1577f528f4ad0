"""Rate points: the encoder settings the adapter may switch between, and what each costs.

A rate point is an ``EncoderSetting`` (``ladon@0.25``, ``jpeg@50``, ...; see
``ladon_ros.rate.setting``). ``calibrate`` encodes a real camera image with every point
once, so the policy knows the bytes and camera compute of each on the scene the robot
actually sees. No ROS here.
"""
from __future__ import annotations

import time

import numpy as np

from ladon_ros.rate.policy import RatePoint
from ladon_ros.rate.setting import LADON, EncoderSetting


def calibrate(settings: list[EncoderSetting], rgb: np.ndarray, *, edge_ms: float = 0.0,
              repeats: int = 2) -> list[RatePoint]:
    """Encodes ``rgb`` with every setting; returns ``RatePoint``s keyed ``str(setting)``.

    Args:
        settings: The rate points.
        rgb: A camera image (H, W, 3) uint8.
        edge_ms: Edge compute estimate, the same for every point until measured.
        repeats: Encodes per point (the first also loads lazily-built tables); the best
            time counts.
    """
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.weights import default_checkpoint
    points = []
    for setting in settings:
        ckpt = setting.checkpoint_path() if setting.codec == LADON else default_checkpoint(LADON)
        enc = make_camera_encoder(codec=setting.codec, checkpoint=ckpt, quality=setting.quality_or_default())
        best, nbytes = float('inf'), 0
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            frame = enc.encode(rgb)
            best = min(best, (time.perf_counter() - t0) * 1e3)
            nbytes = len(frame.payload)
        points.append(RatePoint(str(setting), float(nbytes), best, edge_ms))
    return points


def shipped_points() -> list[EncoderSetting]:
    """``ladon@<beta>`` of every trained shipped rate point of the default model, richest (lowest beta) first."""
    from ladon_ros.weights import is_random, ladon_rate_points
    return [EncoderSetting(LADON, rate_point=m.rate_point) for _, m in ladon_rate_points() if not is_random(m)]
