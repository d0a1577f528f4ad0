"""What the link benchmark compares: codec cases and link settings (validated, frozen).

A codec list is text like ``raw,jpeg@50,jpeg@75,jpeg@90,webp,png,ladon,local``:
``<codec>[@<quality>]`` for image codecs, ``ladon`` for every shipped Ladon rate point
(or ``ladon@<beta>`` for one), ``local`` for the no-offload baseline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ladon_ros.codec.image_codecs import DEFAULT_QUALITY, IMAGE_CODECS, check_quality
from ladon_ros.bench.link.netns import Impairment

STANDARD_CODECS = 'raw,jpeg@50,jpeg@75,jpeg@90,webp,png,ladon,local'
STANDARD_RATES_MBPS = (20.0, 5.0, 1.0)
# The lossy setting: a 5 Mbit/s link that also loses 2 % of its packets and adds 20 ms.
LOSSY = Impairment(delay_ms=20.0, loss=0.02, seed=1)
LOSSY_RATE_MBPS = 5.0


@dataclass(frozen=True)
class CodecCase:
    """One codec configuration of the camera encoder.

    Attributes:
        label: Row name (``'jpeg@75'``, ``'ladon@5.12'``, ``'local'``).
        codec: ``camera_encoder`` codec parameter (``'local'`` = no offload).
        quality: Image codec quality (-1 for Ladon / local).
        checkpoint: Ladon checkpoint file ('' for image codecs).
        rate_point: Ladon beta or the image quality.
    """

    label: str
    codec: str
    quality: int = -1
    checkpoint: str = ''
    rate_point: float = 0.0

    def encoder_params(self) -> dict[str, object]:
        """``camera_encoder`` parameters for this case."""
        params: dict[str, object] = {'codec': self.codec}
        if self.codec == 'ladon':
            params['checkpoint'] = self.checkpoint
        else:
            params['quality'] = self.quality
        return params


@dataclass(frozen=True)
class LinkSetting:
    """One shaping of the link.

    Attributes:
        name: ``'clean'`` or ``'lossy'``.
        link_mbps: tbf rate [Mbit/s].
        impairment: Relay delay/loss (None = direct veth).
    """

    name: str
    link_mbps: float
    impairment: Impairment | None = None


def ladon_points(model_id: str | None = None) -> list[tuple[Path, float, bool]]:
    """(checkpoint, beta, is_random) of every Ladon rate point to benchmark.

    The shipped points of the default model; when none is shipped, one random-weights
    checkpoint (flagged, so reports say the numbers are of untrained weights).
    """
    from ladon_ros.weights import DEFAULT_LADON, is_random, ladon_rate_points, random_checkpoint
    from ladon_ros.checkpoint import read_metadata
    points = ladon_rate_points(model_id or DEFAULT_LADON)
    if points:
        return [(p, m.rate_point, is_random(m)) for p, m in points]
    path = random_checkpoint(model_id or DEFAULT_LADON)
    return [(path, read_metadata(path).rate_point, True)]


def _fmt_beta(beta: float) -> str:
    return f'{beta:g}'


def parse_codecs(text: str, points: list[tuple[Path, float, bool]] | None = None) -> list[CodecCase]:
    """Parses a codec list (see module doc) into cases, in the given order.

    Raises:
        ValueError: Unknown codec, bad quality, unknown Ladon rate point, duplicates.
    """
    cases: list[CodecCase] = []
    for tok in (t.strip() for t in text.split(',')):
        if not tok:
            continue
        name, _, arg = tok.partition('@')
        if name == 'local':
            if arg:
                raise ValueError('local takes no @argument')
            cases.append(CodecCase('local', 'local'))
        elif name == 'ladon':
            pts = points if points is not None else ladon_points()
            if arg:
                beta = float(arg)
                pts = [p for p in pts if math.isclose(p[1], beta, rel_tol=1e-6)]
                if not pts:
                    raise ValueError(f'no Ladon rate point {arg}; have {[p[1] for p in (points or ladon_points())]}')
            for path, beta, _ in pts:
                cases.append(CodecCase(f'ladon@{_fmt_beta(beta)}', 'ladon', -1, str(path), beta))
        elif name in IMAGE_CODECS:
            q = int(arg) if arg else DEFAULT_QUALITY.get(name, 0)
            check_quality(name, q)
            label = name if name == 'raw' else f'{name}@{q}'
            cases.append(CodecCase(label, name, q, '', float(q)))
        else:
            raise ValueError(f'unknown codec {tok!r}; expected local, ladon[@beta] or one of {IMAGE_CODECS}[@q]')
    labels = [c.label for c in cases]
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise ValueError(f'duplicate codecs {sorted(dup)}')
    if not cases:
        raise ValueError('no codecs given')
    return cases


def parse_rates(text: str) -> tuple[float, ...]:
    """``'20,5,1'`` -> (20.0, 5.0, 1.0), fastest first (the queue drains between cells)."""
    rates = sorted({float(t) for t in text.split(',') if t.strip()}, reverse=True)
    if not rates or any(not (0.01 <= r <= 10_000) for r in rates):
        raise ValueError(f'link rates must be in [0.01, 10000] Mbit/s, got {text!r}')
    return tuple(rates)
