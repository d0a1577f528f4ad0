"""The rate adapter's decisions: camera gate, link observations and rate-point switches. No ROS.

``RateAdapter`` is what the ``rate_adapter`` node (``ladon_ros.ros.rate_adapter_node``) runs;
the node only converts messages into the calls below, publishes the gated images and
reconfigures the camera encoder when a decision names another point. Every method takes
the time ``now`` (monotonic seconds), so the logic is tested with a simulated clock.

- ``on_image``: one of every ``skip`` camera images passes the gate;
- ``on_stats``: the edge's ``FrameStats`` (edge compute; delay and latency of the point
  that runs now);
- ``on_feedback``: the edge's ``LinkFeedback`` -> an ``Observation`` -> the policy's
  ``Decision``;
- ``watchdog``: feedback that stopped -> the policy's blind decision;
- ``switch_started`` / ``switch_done`` / ``switch_failed``: the encoder reload in between,
  during which no decision is taken.
"""
from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

from ladon_ros.rate.policy import Decision, Observation, PolicyConfig, RatePoint, RatePolicy
from ladon_ros.rate.setting import EncoderSetting

RECENT_S = 3.0           # FrameStats of the current point this recent give the delay [s]
FEEDBACK_WINDOW_S = 5.0  # the edge's LinkFeedback window (ladon_ros.ros.stats.LinkStats)
STARVE_S = 1.0           # no new frame at the edge for this long ...
STARVE_GRACE_S = 0.3     # ... while frames older than this went out = total loss [s]
FORWARDED_WINDOW_S = 5.0  # gated frames counted for the send rate [s]


@dataclass(frozen=True)
class Feedback:
    """The fields of one ``LinkFeedback`` the adapter uses."""

    frames_received: int
    frames_lost: int
    one_way_delay_ms: float
    bytes_per_s: float
    arrival_rate_hz: float


@dataclass(frozen=True)
class Step:
    """One decision of the adapter.

    Attributes:
        decision: The policy's decision (point index, skip, estimates, reason).
        point: The chosen rate point.
        observation: What it was decided from (None = blind: feedback stopped).
        switch_to: The setting the encoder must be switched to, or None when it runs it already.
    """

    decision: Decision
    point: RatePoint
    observation: Observation | None
    switch_to: EncoderSetting | None

    def record(self, wall_time: float) -> dict:
        """The JSON-able ``decision`` log record (one per decision)."""
        d, obs = self.decision, self.observation
        return {'t': wall_time, 'point': self.point.key, 'bytes': self.point.bytes_per_frame, 'skip': d.skip,
                'capacity_mbps': round(d.capacity_bps / 1e6, 3) if not _nan(d.capacity_bps) else None,
                'predicted_ms': round(d.predicted_ms, 1) if not _nan(d.predicted_ms) else None,
                'reason': d.reason, 'delay_ms': round(obs.one_way_delay_ms, 1) if obs else None,
                'measured_ms': round(obs.measured_ms, 1) if obs and obs.measured_ms is not None else None}


def _nan(x: float) -> bool:
    return x != x


class RateAdapter:
    """Gate + observations + policy of one camera (see module doc).

    Args:
        settings: The rate points (any order; the policy sorts them richest first).
        config: Policy tuning.
        edge_ms: Edge compute estimate until the edge's FrameStats measure it [ms].
        start_point: Index into ``settings`` of the setting the encoder was started with.

    Raises:
        ValueError: No settings, duplicates, or ``start_point`` out of range.
    """

    def __init__(self, settings: list[EncoderSetting], config: PolicyConfig, *, edge_ms: float = 50.0,
                 start_point: int = 0):
        if not settings:
            raise ValueError('points: give at least one rate point (e.g. ladon@0.25, jpeg@50)')
        keys = [str(s) for s in settings]
        if len(set(keys)) != len(keys):
            raise ValueError(f'points: duplicate rate points in {keys}')
        if not 0 <= start_point < len(settings):
            raise ValueError(f'start_point: {start_point} is not an index of points (0..{len(settings) - 1})')
        self.settings = {k: s for k, s in zip(keys, settings)}
        self.identity = {k: (c, round(r, 3)) for k, (c, r) in ((k, s.frame_identity()) for k, s in self.settings.items())}
        self.config, self.edge_ms, self.start_key = config, float(edge_ms), keys[start_point]
        self.policy: RatePolicy | None = None
        self.current: str | None = None      # key of the setting the encoder runs now
        self.switching = False
        self.skip, self.count = 1, 0
        self.forwarded: deque[float] = deque()
        self.recent: deque[tuple[float, float, float]] = deque(maxlen=20)  # (time, transit_ms, total_ms)
        self.edge_samples: deque[float] = deque(maxlen=50)
        self.last_feedback: tuple[int, int] | None = None  # (received, lost) of the previous feedback
        self.last_feedback_time: float | None = None
        self.recv_changed: float | None = None
        self.stream_start: float | None = None

    # -- calibration and camera gate --------------------------------------------------------
    @property
    def calibrated(self) -> bool:
        """True once ``start`` has been given the measured rate points."""
        return self.policy is not None

    def start(self, points: list[RatePoint], now: float) -> None:
        """Starts deciding with the measured ``points`` (``ladon_ros.rate.points.calibrate``)."""
        ordered = [p.key for p in sorted(points, key=lambda p: -p.bytes_per_frame)]
        self.policy = RatePolicy(points, self.config, start_index=ordered.index(self.start_key))
        self.current = self.start_key  # the encoder was started with this point
        self.stream_start = self.last_feedback_time = now

    def on_image(self, now: float) -> bool:
        """One camera image arrived; True if it passes the gate (1 of every ``skip``)."""
        self.count += 1
        if self.count % self.skip:
            return False
        self.forwarded.append(now)
        while self.forwarded and now - self.forwarded[0] > FORWARDED_WINDOW_S:
            self.forwarded.popleft()
        return True

    # -- edge reports -> decisions --------------------------------------------------------------
    def on_stats(self, now: float, codec: str, rate_point: float, transit_ms: float, total_ms: float) -> None:
        """One ``FrameStats`` of the edge."""
        # Edge time = everything after arrival (queue wait, decode, heads, publishing).
        self.edge_samples.append(max(0.0, total_ms - transit_ms))
        # Delay and latency of frames of the point running now: the feedback's 5 s median
        # mixes in frames of the previous point for seconds after a switch.
        if self.current is not None and (codec, round(rate_point, 3)) == self.identity[self.current]:
            self.recent.append((now, transit_ms, total_ms))

    def _recent(self, now: float, col: int) -> float | None:
        vals = [r[col] for r in self.recent if now - r[0] <= RECENT_S]
        return statistics.median(vals) if len(vals) >= 3 else None

    def on_feedback(self, now: float, fb: Feedback) -> Step | None:
        """One ``LinkFeedback`` of the edge; the decision it leads to (None: no evidence, or switching)."""
        self.last_feedback_time = now
        if self.policy is None or (fb.frames_received == 0 and self.last_feedback is None):
            return None  # nothing sent or nothing arrived yet: no evidence about the link
        prev = self.last_feedback or (fb.frames_received, fb.frames_lost)
        self.last_feedback = (fb.frames_received, fb.frames_lost)
        d_recv, d_lost = fb.frames_received - prev[0], fb.frames_lost - prev[1]
        loss = d_lost / (d_recv + d_lost) if d_recv + d_lost > 0 else 0.0
        if d_recv > 0 or self.recv_changed is None:
            self.recv_changed = now
        # Sequence gaps only show once a later frame arrives; when none arrives at all
        # although frames went out (a link so slow that its buffer drops every frame),
        # that is total loss, and the 5 s feedback window would hide it for seconds.
        sent = sum(1 for t in self.forwarded if self.recv_changed <= t <= now - STARVE_GRACE_S)
        if now - self.recv_changed > STARVE_S and sent >= 2:
            loss = 1.0
        if self.edge_samples:
            edge_ms = statistics.median(self.edge_samples)
            self.policy.points = [RatePoint(p.key, p.bytes_per_frame, p.encode_ms, edge_ms)
                                  for p in self.policy.points]
        delay = self._recent(now, 1)
        # The edge's rates are 5 s window averages: for 5 s after the stream (re)starts they
        # under-count arrivals, which must not read as a saturated link.
        warm = now - self.stream_start >= FEEDBACK_WINDOW_S
        obs = Observation(now, fb.one_way_delay_ms if delay is None else delay, fb.bytes_per_s,
                          fb.arrival_rate_hz, loss, len(self.forwarded) / FEEDBACK_WINDOW_S if warm else 0.0,
                          self._recent(now, 2))
        if self.switching:
            return None
        return self._step(self.policy.update(obs), obs)

    def watchdog(self, now: float) -> Step | None:
        """Called about once a second: blind decision once feedback had come and then stopped."""
        if self.policy is None or self.switching or self.last_feedback is None or \
                now - self.last_feedback_time <= self.config.stale_s:
            return None
        return self._step(self.policy.blind(now), None)

    def _step(self, d: Decision, obs: Observation | None) -> Step:
        self.skip = d.skip
        point = self.policy.points[d.index]
        return Step(d, point, obs, None if point.key == self.current else self.settings[point.key])

    # -- encoder reconfiguration ----------------------------------------------------------------
    def switch_started(self) -> None:
        """The encoder is being reloaded: decisions wait until it is done."""
        self.switching = True

    def switch_done(self, setting: EncoderSetting, now: float) -> None:
        """The encoder runs ``setting`` now."""
        self.current, self.switching = str(setting), False
        self.recv_changed = self.stream_start = now  # the reload sent nothing: no loss
        self.recent.clear()

    def switch_failed(self) -> None:
        """The reload failed; the next decision may try again."""
        self.switching = False
