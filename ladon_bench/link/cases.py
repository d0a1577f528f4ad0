"""What the link benchmark compares: codec cases and link settings (validated, frozen).

A codec list is text like ``raw,jpeg@50,jpeg@75,jpeg@90,webp,png,ladon,local``: encoder
settings in the notation of ``ladon_ros.rate.setting`` (``<codec>[@<quality>]``,
``ladon@<beta>``, ``ladon:<checkpoint>``), where a bare ``ladon`` means every shipped Ladon
rate point, plus ``local`` for the no-offload baseline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ladon_bench.link.netns import Impairment
from ladon_ros.rate.setting import LADON, EncoderSetting

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
        setting: What the camera encoder runs (None = ``local``: no offload).
        rate_point: Ladon beta or the image quality, as the frames carry it.
    """

    label: str
    setting: EncoderSetting | None
    rate_point: float = 0.0

    @property
    def codec(self) -> str:
        """``camera_encoder`` codec, or ``'local'``."""
        return 'local' if self.setting is None else self.setting.codec

    @property
    def checkpoint(self) -> str:
        """Ladon checkpoint file ('' for image codecs and local)."""
        return '' if self.setting is None else self.setting.checkpoint

    def encoder_params(self) -> dict[str, object]:
        """``camera_encoder`` parameters for this case."""
        if self.setting is None:
            raise ValueError('the local baseline runs no camera encoder')
        return self.setting.encoder_params()


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


def _case(token: str, points: list[tuple[Path, float, bool]] | None) -> list[CodecCase]:
    """The case(s) of one codec-list token."""
    if token == 'local':
        return [CodecCase('local', None)]
    try:
        setting = EncoderSetting.parse(token)
    except ValueError as err:
        raise ValueError(f'{err}; a codec list also takes local, and ladon for every shipped rate point') from None
    if setting.codec != LADON:
        q = setting.quality_or_default()
        setting = setting if setting.codec == 'raw' else EncoderSetting(setting.codec, quality=q)
        return [CodecCase(setting.codec if setting.codec == 'raw' else str(setting), setting, float(q))]
    if setting.checkpoint:
        from ladon_ros.checkpoint import read_metadata
        beta = read_metadata(setting.checkpoint).rate_point
        return [CodecCase(f'ladon@{beta:g}', setting, beta)]
    pts = points if points is not None else ladon_points()
    if setting.rate_point is not None:
        found = [p for p in pts if math.isclose(p[1], setting.rate_point, rel_tol=1e-6)]
        if not found:
            raise ValueError(f'no Ladon rate point {setting.rate_point:g}; have {[p[1] for p in pts]}')
        pts = found
    return [CodecCase(f'ladon@{beta:g}', EncoderSetting(LADON, checkpoint=str(path)), beta) for path, beta, _ in pts]


def parse_codecs(text: str, points: list[tuple[Path, float, bool]] | None = None) -> list[CodecCase]:
    """Parses a codec list (see module doc) into cases, in the given order.

    Args:
        text: The codec list.
        points: (checkpoint, beta, is_random) of the Ladon rate points (default ``ladon_points()``).

    Raises:
        ValueError: Unknown codec, bad quality, unknown Ladon rate point, duplicates.
    """
    cases = [c for tok in (t.strip() for t in text.split(',')) if tok for c in _case(tok, points)]
    labels = [c.label for c in cases]
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise ValueError(f'duplicate codecs {sorted(dup)} (a case is named by codec and rate point: two '
                         'checkpoints of one rate point go in separate runs)')
    if not cases:
        raise ValueError('no codecs given')
    return cases


def parse_rates(text: str) -> tuple[float, ...]:
    """``'20,5,1'`` -> (20.0, 5.0, 1.0), fastest first (the queue drains between cells)."""
    rates = sorted({float(t) for t in text.split(',') if t.strip()}, reverse=True)
    if not rates or any(not (0.01 <= r <= 10_000) for r in rates):
        raise ValueError(f'link rates must be in [0.01, 10000] Mbit/s, got {text!r}')
    return tuple(rates)
