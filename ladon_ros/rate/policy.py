"""Rate that follows the link: pick a rate point and frame skipping from link feedback.

The camera knows, per rate point, the bytes a frame costs and the compute it needs; the
edge reports what it sees of the link (``LinkFeedback``: median one-way delay, goodput,
arrival rate, losses). From these the policy estimates the link rate, predicts each
point's end-to-end latency and picks the richest point that fits the budget, then skips
frames so the link is never loaded past ``max_utilisation`` (a fuller link only adds
queueing delay and, with a bounded radio buffer, loses whole frames).

Estimating the rate:
- from delay: the one-way delay of a frame of ``B`` bytes is about ``base + encode +
  8 B / C`` on an idle link, so ``C ~ 8 B / (delay - base - encode)``; queueing makes
  this an underestimate, which errs on the safe side;
- from goodput: when frames are lost or arrive slower than sent, the link is saturated
  and the received bytes per second *are* its rate.

Moves are asymmetric: down at once (as far as the prediction says), up one point at a
time after the current point has stayed comfortably inside the budget for
``up_hold_s`` (the prediction from small frames is least reliable; a failed probe
doubles the hold, so an unstable link is not probed every few seconds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RatePoint:
    """One operating point of the camera encoder.

    Attributes:
        key: What the camera switches to (e.g. a checkpoint path).
        bytes_per_frame: Expected bitstream bytes per frame (payload).
        encode_ms: Camera compute per frame [ms].
        edge_ms: Edge compute per frame (decode + heads) [ms].
    """

    key: str
    bytes_per_frame: float
    encode_ms: float = 0.0
    edge_ms: float = 0.0

    def __post_init__(self):
        if not self.bytes_per_frame > 0:
            raise ValueError(f'{self.key}: bytes_per_frame must be > 0, got {self.bytes_per_frame}')
        if self.encode_ms < 0 or self.edge_ms < 0:
            raise ValueError(f'{self.key}: compute times must be >= 0')


@dataclass(frozen=True)
class PolicyConfig:
    """Tuning of ``RatePolicy`` (validated).

    Attributes:
        budget_ms: End-to-end latency budget (capture -> results) [ms].
        camera_fps: Frames per second the camera offers.
        base_delay_ms: Transit time not due to the frame's size (stack, DDS, propagation) [ms].
        headroom: Aim for predicted latency <= ``headroom * budget_ms``.
        low_water: Measured latency below ``low_water * budget_ms`` counts as comfortable.
        max_utilisation: Send at most this share of the estimated link rate.
        up_hold_s: Comfortable time needed before stepping up one point [s].
        min_hold_s: Floor of the hold: each successful step up halves it down to this [s].
        max_hold_s: Cap of the hold after failed probes [s].
        loss_congested: Loss ratio from which the link counts as saturated.
        max_skip: Largest frame-skip factor (send 1 of every ``max_skip`` frames).
        stale_s: Feedback older than this means "blind": go to the cheapest setting [s].
    """

    budget_ms: float
    camera_fps: float
    base_delay_ms: float = 3.0
    headroom: float = 0.85
    low_water: float = 0.6
    max_utilisation: float = 0.8
    up_hold_s: float = 3.0
    min_hold_s: float = 1.0
    max_hold_s: float = 30.0
    loss_congested: float = 0.05
    max_skip: int = 10
    stale_s: float = 3.0

    def __post_init__(self):
        checks = [
            (self.budget_ms > 0, 'budget_ms must be > 0'),
            (self.camera_fps > 0, 'camera_fps must be > 0'),
            (self.base_delay_ms >= 0, 'base_delay_ms must be >= 0'),
            (0 < self.headroom <= 1, 'headroom must be in (0, 1]'),
            (0 < self.low_water <= self.headroom, 'low_water must be in (0, headroom]'),
            (0 < self.max_utilisation <= 1, 'max_utilisation must be in (0, 1]'),
            (0 <= self.min_hold_s <= self.up_hold_s <= self.max_hold_s,
             'need 0 <= min_hold_s <= up_hold_s <= max_hold_s'),
            (0 < self.loss_congested < 1, 'loss_congested must be in (0, 1)'),
            (self.max_skip >= 1, 'max_skip must be >= 1'),
            (self.stale_s > 0, 'stale_s must be > 0'),
        ]
        for ok, text in checks:
            if not ok:
                raise ValueError(f'PolicyConfig: {text}')


@dataclass(frozen=True)
class Observation:
    """What the camera knows of the link at ``time_s`` (from ``LinkFeedback`` + itself).

    Attributes:
        time_s: When the feedback was received (camera monotonic clock) [s].
        one_way_delay_ms: Median capture -> arrival delay over the edge's window [ms].
        bytes_per_s: Payload bytes received per second by the edge.
        arrival_rate_hz: Frames received per second by the edge.
        loss_ratio: Frames lost / frames sent since the previous observation (0..1).
        sent_rate_hz: Frames the camera sent per second over the same window.
        measured_ms: Measured end-to-end latency (capture -> results) of recent frames of
            the current point, when known (the edge's FrameStats); else the policy uses
            ``one_way_delay_ms`` + the point's ``edge_ms``.
    """

    time_s: float
    one_way_delay_ms: float
    bytes_per_s: float
    arrival_rate_hz: float
    loss_ratio: float = 0.0
    sent_rate_hz: float = 0.0
    measured_ms: float | None = None


@dataclass(frozen=True)
class Decision:
    """What the camera should do now.

    Attributes:
        index: Index into the policy's rate points (0 = richest).
        skip: Send one of every ``skip`` camera frames.
        capacity_bps: Estimated link rate [bit/s] (``nan`` when unknown).
        predicted_ms: Predicted end-to-end latency of the chosen point [ms].
        reason: Why (``'hold'``, ``'down'``, ``'up'``, ``'blind'``, ``'start'``).
    """

    index: int
    skip: int
    capacity_bps: float
    predicted_ms: float
    reason: str


class RatePolicy:
    """Chooses the rate point and frame skipping; call ``update`` on every feedback.

    Args:
        points: Rate points, any order; kept sorted richest (most bytes) first.
        config: Tuning.
        start_index: Initial point (index in the sorted order).
    """

    def __init__(self, points: list[RatePoint], config: PolicyConfig, start_index: int = 0):
        if not points:
            raise ValueError('RatePolicy needs at least one rate point')
        self.points = sorted(points, key=lambda p: -p.bytes_per_frame)
        if not 0 <= start_index < len(self.points):
            raise ValueError(f'start_index {start_index} out of range 0..{len(self.points) - 1}')
        self.cfg = config
        self.index, self.skip = start_index, 1
        self.capacity_bps = math.nan
        self._hold_s = config.up_hold_s
        self._comfortable_since: float | None = None
        self._last_up: tuple[float, int, float] | None = None  # (time, index before, hold before)

    def predict_ms(self, index: int, capacity_bps: float) -> float:
        """Predicted end-to-end latency of ``points[index]`` on a link of ``capacity_bps``."""
        p = self.points[index]
        tx = 8 * p.bytes_per_frame / capacity_bps * 1e3 if capacity_bps > 0 else math.inf
        return p.encode_ms + self.cfg.base_delay_ms + tx + p.edge_ms

    def _extra_tx_ms(self, capacity_bps: float) -> float:
        """Extra transmission time of the next richer point over the current one [ms].

        Lets the policy climb when the latency is high for reasons the link does not
        cause (a busy edge): the next point only adds its extra bytes' time.
        """
        extra = self.points[self.index - 1].bytes_per_frame - self.points[self.index].bytes_per_frame
        return 8 * extra / capacity_bps * 1e3 if capacity_bps > 0 else math.inf

    def _skip_for(self, index: int, capacity_bps: float) -> int:
        if not capacity_bps > 0:
            return self.cfg.max_skip
        need = self.cfg.camera_fps * 8 * self.points[index].bytes_per_frame
        ratio = need / (self.cfg.max_utilisation * capacity_bps)
        return self.cfg.max_skip if ratio >= self.cfg.max_skip else max(1, math.ceil(ratio))

    def _estimate_capacity(self, obs: Observation) -> float:
        cur = self.points[self.index]
        serial_ms = obs.one_way_delay_ms - self.cfg.base_delay_ms - cur.encode_ms
        est = 8 * cur.bytes_per_frame / max(serial_ms, 0.5) * 1e3 if obs.arrival_rate_hz > 0 else math.nan
        saturated = obs.loss_ratio >= self.cfg.loss_congested or (
            obs.sent_rate_hz > 0 and obs.arrival_rate_hz < 0.8 * obs.sent_rate_hz)
        if saturated and obs.bytes_per_s > 0:
            goodput = 8 * obs.bytes_per_s
            est = goodput if math.isnan(est) else min(est, goodput)
        return est

    def blind(self, now_s: float) -> Decision:
        """No usable feedback (link down, edge gone): cheapest point, fewest frames."""
        self.index, self.skip = len(self.points) - 1, self.cfg.max_skip
        self._comfortable_since = None
        return Decision(self.index, self.skip, math.nan, math.nan, 'blind')

    def update(self, obs: Observation) -> Decision:
        """Takes one observation and returns the new decision."""
        cfg = self.cfg
        if obs.arrival_rate_hz <= 0 and obs.bytes_per_s <= 0:
            return self.blind(obs.time_s)
        cap = self._estimate_capacity(obs)
        if math.isnan(cap):
            return self.blind(obs.time_s)
        self.capacity_bps = cap
        target = cfg.headroom * cfg.budget_ms
        last = len(self.points) - 1
        measured = obs.measured_ms if obs.measured_ms is not None else \
            obs.one_way_delay_ms + self.points[self.index].edge_ms
        fits = [i for i in range(len(self.points)) if self.predict_ms(i, cap) <= target]
        best = fits[0] if fits else last
        over = measured > target or obs.loss_ratio >= cfg.loss_congested
        reason = 'hold'
        if over or best > self.index:
            # Over budget with the current point means its own estimate was too rosy:
            # step at least one point down, further if the prediction says so.
            new = min(last, max(best, self.index + (1 if over else 0)))
            if new != self.index:
                if self._last_up and self.index == self._last_up[1] - 1 \
                        and obs.time_s - self._last_up[0] < 2 * self._last_up[2]:
                    self._hold_s = min(cfg.max_hold_s, 2 * self._last_up[2])  # the probe failed
                self.index, reason = new, 'down'
            self._comfortable_since = None
        elif self.index > 0 and (measured <= cfg.low_water * cfg.budget_ms
                                 or measured + self._extra_tx_ms(cap) <= 0.9 * target):
            if self._comfortable_since is None:
                self._comfortable_since = obs.time_s
            if obs.time_s - self._comfortable_since >= self._hold_s:
                self._last_up = (obs.time_s, self.index, self._hold_s)
                self.index, reason = self.index - 1, 'up'
                self._comfortable_since = None
                # Climbing a ladder one rung per full hold is slow; the hold that proves
                # the next rung shrinks while rungs keep holding (a failure doubles it back).
                self._hold_s = max(cfg.min_hold_s, self._hold_s / 2)
        else:
            self._comfortable_since = None
        if self._last_up and reason == 'hold' and obs.time_s - self._last_up[0] > 4 * cfg.max_hold_s:
            self._hold_s = cfg.up_hold_s  # long stable: forget old failed probes
        self.skip = self._skip_for(self.index, cap)
        return Decision(self.index, self.skip, cap, self.predict_ms(self.index, cap), reason)
