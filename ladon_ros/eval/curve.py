"""Reading a codec's rate-accuracy curve at a given accuracy (no torch: the fleet benchmark's
orchestrator imports it too)."""
from __future__ import annotations

import math


def at_metric(points: list[tuple[float, float, float]], target: float) -> dict:
    """Where one codec's measured settings reach ``target``: the one interpolation of the repo
    (eval's byte ratios and the fleet benchmark's equal-accuracy pairs both use it).

    Args:
        points: ``(setting, bytes, metric)`` per measured setting of the codec.
        target: The metric to reach.

    Returns:
        ``{'setting', 'bytes', 'metric', 'how', 'bracket'}``. The first crossing from the cheap
        end, interpolated between the two settings that bracket ``target``: linear in the
        setting and in log-bytes (bytes grow about geometrically with quality). ``how`` is
        ``'interpolated'``, ``'below_range'`` (the cheapest setting already reaches the
        target: its bytes are an upper bound) or ``'above_range'`` (the best setting stays
        below: its bytes are a lower bound, its metric is short of the target).
    """
    pts = sorted(points, key=lambda p: (p[1], p[0]))
    if not pts:
        raise ValueError('empty curve')
    s0, b0, m0 = pts[0]
    if m0 >= target:
        return {'setting': s0, 'bytes': b0, 'metric': m0, 'how': 'below_range', 'bracket': [s0, s0]}
    for (sa, ba, ma), (sb, bb, mb) in zip(pts, pts[1:]):
        if mb >= target > ma:
            f = (target - ma) / (mb - ma)
            return {'setting': sa + f * (sb - sa), 'bytes': math.exp(math.log(ba) + f * (math.log(bb) - math.log(ba))),
                    'metric': target, 'how': 'interpolated', 'bracket': [sa, sb]}
    s1, b1, m1 = pts[-1]
    return {'setting': s1, 'bytes': b1, 'metric': m1, 'how': 'above_range', 'bracket': [s1, s1]}
