"""``rate_adapter`` (robot side): makes the camera encoder follow the link.

The ``camera_encoder`` node loads one codec/checkpoint at configure time and has no
hot-swap hook, so this small node drives it from outside, in the robot's namespace:

- it gates the camera: subscribes ``image_raw`` and republishes one of every ``skip``
  images on ``image_gated`` (run the encoder with ``-r image_raw:=image_gated``);
- it subscribes the edge's ``link_feedback`` (and ``perception/frame_stats`` for the
  edge's compute time), feeds ``ladon_ros.rate.policy.RatePolicy`` and, when the
  chosen rate point changes, sets the encoder's ``codec``/``quality``/``checkpoint``
  parameters (``set_parameters`` service) and reloads it through its lifecycle
  (deactivate -> cleanup -> configure -> activate: a few hundred ms on this machine).

Parameters: ``points`` (rate point specs, ``codec=ladon,checkpoint=...`` /
``codec=jpeg,quality=50``), ``budget_ms``, ``camera_fps``, ``edge_ms`` (edge compute
until measured), ``encoder_node`` (default ``camera_encoder``), ``start_point`` (index
of ``points`` the encoder was started with). Bytes and encode time of each point are measured on the
first camera image. Each decision is logged as one ``decision {json}`` line.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from collections import deque

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from sensor_msgs.msg import Image

from ladon_ros.rate.points import calibrate, frame_identity, parse_point
from ladon_ros.rate.policy import Observation, PolicyConfig, RatePolicy
from ladon_ros.ros import qos
from ladon_ros.ros.common import run_node
from ladon_ros.ros.conversions import image_to_rgb

RECENT_S = 3.0        # FrameStats of the current point this recent give the delay [s]
FEEDBACK_WINDOW_S = 5.0  # the edge's LinkFeedback window (ladon_ros.ros.stats.LinkStats)
STARVE_S = 1.0        # no new frame at the edge for this long ...
STARVE_GRACE_S = 0.3  # ... while frames older than this went out = total loss [s]
RELOAD = (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP,
          Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE)


def _param(name: str, value) -> Parameter:
    if isinstance(value, int):
        v = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    else:
        v = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(value))
    return Parameter(name=name, value=v)


class RateAdapterNode(Node):
    """Gate + policy + encoder reconfiguration (see module doc)."""

    def __init__(self, **kwargs):
        super().__init__('rate_adapter', **kwargs)
        self.declare_parameter('points', [''])
        self.declare_parameter('budget_ms', 250.0)
        self.declare_parameter('camera_fps', 10.0)
        self.declare_parameter('edge_ms', 50.0)
        self.declare_parameter('encoder_node', 'camera_encoder')
        self.declare_parameter('start_point', 0)
        specs = [s for s in self.get_parameter('points').value if s]
        if not specs:
            raise ValueError('points: give at least one rate point (codec=...,quality=... / checkpoint=...)')
        for s in specs:
            parse_point(s)  # ValueError with the bad spec
        self.specs = specs
        self.identity = {s: (c, round(r, 3)) for s, (c, r) in ((s, frame_identity(s)) for s in specs)}
        self.recent: deque[tuple[float, float]] = deque(maxlen=20)
        self.start_point = self.get_parameter('start_point').value
        if not 0 <= self.start_point < len(specs):
            raise ValueError(f'start_point: {self.start_point} is not an index of points (0..{len(specs) - 1})')
        self.cfg = PolicyConfig(budget_ms=self.get_parameter('budget_ms').value,
                                camera_fps=self.get_parameter('camera_fps').value)
        self.edge_ms = float(self.get_parameter('edge_ms').value)
        self.policy: RatePolicy | None = None
        self.current: str | None = None      # spec the encoder runs now
        self.switching = False
        self.skip, self.count = 1, 0
        self.forwarded: deque[float] = deque()
        self.edge_samples: deque[float] = deque(maxlen=50)
        self.last_feedback: tuple[int, int] | None = None  # (received, lost) of the previous feedback
        self.last_feedback_time = time.monotonic()
        self.recv_changed: float | None = None
        self.stream_start = time.monotonic()
        enc = self.get_parameter('encoder_node').value
        self.set_cli = self.create_client(SetParameters, f'{enc}/set_parameters')
        self.state_cli = self.create_client(ChangeState, f'{enc}/change_state')
        self.gate_pub = self.create_publisher(Image, 'image_gated', qos.SENSOR)
        self.create_subscription(Image, 'image_raw', self._on_image, qos.SENSOR)
        from ladon_ros.msg import FrameStats, LinkFeedback
        self.create_subscription(LinkFeedback, 'link_feedback', self._on_feedback, qos.FEEDBACK)
        self.create_subscription(FrameStats, 'perception/frame_stats', self._on_stats, qos.RESULTS)
        self.create_timer(1.0, self._watchdog)
        self.get_logger().info(f'{len(specs)} rate points, budget {self.cfg.budget_ms} ms; waiting for a camera image')

    # -- camera gate --------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        if self.policy is None:
            self._calibrate(msg)
        self.count += 1
        if self.count % self.skip:
            return
        self.gate_pub.publish(msg)
        now = time.monotonic()
        self.forwarded.append(now)
        while self.forwarded and now - self.forwarded[0] > 5.0:
            self.forwarded.popleft()

    def _calibrate(self, msg: Image) -> None:
        self.stream_start = time.monotonic()
        points = calibrate(self.specs, image_to_rgb(msg), edge_ms=self.edge_ms)
        start = self.specs[self.start_point]
        ordered = [p.key for p in sorted(points, key=lambda p: -p.bytes_per_frame)]
        self.policy = RatePolicy(points, self.cfg, start_index=ordered.index(start))
        for p in self.policy.points:
            self.get_logger().info(f'rate point {p.key}: {p.bytes_per_frame:.0f} B/frame, encode {p.encode_ms:.1f} ms')
        self.current = start  # the encoder was started with this point

    # -- feedback -> decision -------------------------------------------------------------
    def _on_stats(self, m) -> None:
        # Edge time = everything after arrival (queue wait, decode, heads, publishing).
        self.edge_samples.append(max(0.0, m.total_ms - m.transit_ms))
        # Delay and latency of frames of the point running now: the feedback's 5 s median
        # mixes in frames of the previous point for seconds after a switch.
        if self.current is not None and (m.codec, round(m.rate_point, 3)) == self.identity[self.current]:
            self.recent.append((time.monotonic(), m.transit_ms, m.total_ms))

    def _recent(self, now: float, col: int) -> float | None:
        vals = [r[col] for r in self.recent if now - r[0] <= RECENT_S]
        return statistics.median(vals) if len(vals) >= 3 else None

    def _on_feedback(self, m) -> None:
        self.last_feedback_time = time.monotonic()
        if self.policy is None or (m.frames_received == 0 and self.last_feedback is None):
            return  # nothing sent or nothing arrived yet: no evidence about the link
        now = time.monotonic()
        prev = self.last_feedback or (m.frames_received, m.frames_lost)
        self.last_feedback = (m.frames_received, m.frames_lost)
        d_recv, d_lost = m.frames_received - prev[0], m.frames_lost - prev[1]
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
            self.policy.points = [p.__class__(p.key, p.bytes_per_frame, p.encode_ms, edge_ms)
                                  for p in self.policy.points]
        delay = self._recent(now, 1)
        # The edge's rates are 5 s window averages: for 5 s after the stream (re)starts they
        # under-count arrivals, which must not read as a saturated link.
        warm = now - self.stream_start >= FEEDBACK_WINDOW_S
        obs = Observation(now, m.one_way_delay_ms if delay is None else delay, m.bytes_per_s, m.arrival_rate_hz,
                          loss, len(self.forwarded) / FEEDBACK_WINDOW_S if warm else 0.0, self._recent(now, 2))
        if self.switching:
            return
        self._decide(self.policy.update(obs), obs)

    def _watchdog(self) -> None:
        # Blind only once feedback had come and then stopped (link or edge gone).
        if self.policy is not None and not self.switching and self.last_feedback is not None and \
                time.monotonic() - self.last_feedback_time > self.cfg.stale_s:
            self._decide(self.policy.blind(time.monotonic()), None)

    def _decide(self, d, obs) -> None:
        self.skip = d.skip
        key = self.policy.points[d.index].key
        self.get_logger().info('decision ' + json.dumps({
            't': time.time(), 'point': key, 'bytes': self.policy.points[d.index].bytes_per_frame,
            'skip': d.skip, 'capacity_mbps': round(d.capacity_bps / 1e6, 3) if d.capacity_bps == d.capacity_bps
            else None, 'predicted_ms': round(d.predicted_ms, 1) if d.predicted_ms == d.predicted_ms else None,
            'reason': d.reason, 'delay_ms': round(obs.one_way_delay_ms, 1) if obs else None,
            'measured_ms': round(obs.measured_ms, 1) if obs and obs.measured_ms is not None else None}))
        if key != self.current:
            self._apply(key)

    # -- encoder reconfiguration ------------------------------------------------------------
    def _apply(self, key: str) -> None:
        if not (self.set_cli.service_is_ready() and self.state_cli.service_is_ready()):
            self.get_logger().warning('camera encoder services not ready; will retry on the next decision')
            return
        self.switching = True
        params = parse_point(key)
        params.setdefault('checkpoint', '')
        params.setdefault('quality', -1)
        req = SetParameters.Request(parameters=[_param(k, v) for k, v in params.items()])
        self.set_cli.call_async(req).add_done_callback(lambda f: self._transition(key, 0))

    def _transition(self, key: str, step: int) -> None:
        if step == len(RELOAD):
            self.current, self.switching = key, False
            self.recv_changed = self.stream_start = time.monotonic()  # the reload sent nothing: no loss
            self.recent.clear()
            self.get_logger().info(f'encoder now runs {key}')
            return
        req = ChangeState.Request()
        req.transition.id = RELOAD[step]
        fut = self.state_cli.call_async(req)

        def done(f):
            ok = f.result() is not None and f.result().success
            if not ok and step == 0:
                pass  # already inactive (e.g. a failed earlier reload): go on with cleanup
            elif not ok:
                self.get_logger().error(f'encoder transition {RELOAD[step]} failed for {key}')
                self.switching = False
                return
            self._transition(key, step + 1)
        fut.add_done_callback(done)


def main(args=None) -> int:
    """Console entry point (``python -m ladon_ros.ros.rate_adapter``)."""
    return run_node(RateAdapterNode, args)


if __name__ == '__main__':
    sys.exit(main())
