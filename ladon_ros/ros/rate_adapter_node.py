"""``rate_adapter`` (robot side): makes the camera encoder follow the link.

The ``camera_encoder`` node loads one codec/checkpoint at configure time and has no
hot-swap hook, so this small node drives it from outside, in the robot's namespace:

- it gates the camera: subscribes ``image_raw`` and republishes one of every ``skip``
  images on ``image_gated`` (run the encoder with ``-r image_raw:=image_gated``; the launch
  file does so with ``rate_adapter:=true``);
- it subscribes the edge's ``link_feedback`` (and ``perception/frame_stats`` for the
  edge's compute time) and, when the chosen rate point changes, sets the encoder's
  ``codec``/``checkpoint``/``rate_point``/``quality`` parameters (``set_parameters``
  service) and reloads it through its lifecycle (deactivate -> cleanup -> configure ->
  activate: a few hundred ms on this machine).

The decisions are ``ladon_ros.rate.adapter.RateAdapter`` (plain Python, unit-tested); this
node converts messages, calls it, publishes and talks to the encoder. Parameters:
``ladon_ros.ros.params.RateAdapterConfig`` (``config/rate_adapter.yaml``). Bytes and encode
time of each point are measured on the first camera image. Each decision is logged as one
``decision {json}`` line.
"""
from __future__ import annotations

import json
import sys
import time

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from sensor_msgs.msg import Image

from ladon_ros.rate.adapter import Feedback, RateAdapter, Step
from ladon_ros.rate.points import calibrate
from ladon_ros.rate.policy import PolicyConfig
from ladon_ros.rate.setting import EncoderSetting
from ladon_ros.ros import qos
from ladon_ros.ros.common import run_node
from ladon_ros.ros.conversions import image_to_rgb
from ladon_ros.ros.params import RateAdapterConfig, declare, read

RELOAD = (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP,
          Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE)


def _param(name: str, value) -> Parameter:
    """An ``rcl_interfaces/Parameter`` of an int, float or string value."""
    if isinstance(value, int):
        v = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    elif isinstance(value, float):
        v = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    else:
        v = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(value))
    return Parameter(name=name, value=v)


class RateAdapterNode(Node):
    """Gate + policy + encoder reconfiguration (see module doc)."""

    def __init__(self, **kwargs):
        super().__init__('rate_adapter', **kwargs)
        declare(self, RateAdapterConfig)
        cfg = read(self, RateAdapterConfig)
        settings = cfg.settings()
        self.core = RateAdapter(settings, PolicyConfig(budget_ms=cfg.budget_ms, camera_fps=cfg.camera_fps),
                                edge_ms=cfg.edge_ms, start_point=cfg.start_index())
        self.settings, self.edge_ms = settings, cfg.edge_ms
        self.set_cli = self.create_client(SetParameters, f'{cfg.encoder_node}/set_parameters')
        self.state_cli = self.create_client(ChangeState, f'{cfg.encoder_node}/change_state')
        self.gate_pub = self.create_publisher(Image, 'image_gated', qos.SENSOR)
        self.create_subscription(Image, 'image_raw', self._on_image, qos.SENSOR)
        from ladon_ros.msg import FrameStats, LinkFeedback
        self.create_subscription(LinkFeedback, 'link_feedback', self._on_feedback, qos.FEEDBACK)
        self.create_subscription(FrameStats, 'perception/frame_stats', self._on_stats, qos.RESULTS)
        self.create_timer(1.0, lambda: self._act(self.core.watchdog(time.monotonic())))
        self.get_logger().info(f'{len(settings)} rate points ({", ".join(map(str, settings))}), '
                               f'budget {cfg.budget_ms} ms; waiting for a camera image')

    def _on_image(self, msg: Image) -> None:
        if not self.core.calibrated:
            now = time.monotonic()
            points = calibrate(self.settings, image_to_rgb(msg), edge_ms=self.edge_ms)
            for p in points:
                self.get_logger().info(f'rate point {p.key}: {p.bytes_per_frame:.0f} B/frame, encode {p.encode_ms:.1f} ms')
            self.core.start(points, now)
        if self.core.on_image(time.monotonic()):
            self.gate_pub.publish(msg)

    def _on_stats(self, m) -> None:
        self.core.on_stats(time.monotonic(), m.codec, m.rate_point, m.transit_ms, m.total_ms)

    def _on_feedback(self, m) -> None:
        fb = Feedback(m.frames_received, m.frames_lost, m.one_way_delay_ms, m.bytes_per_s, m.arrival_rate_hz)
        self._act(self.core.on_feedback(time.monotonic(), fb))

    def _act(self, step: Step | None) -> None:
        if step is None:
            return
        self.get_logger().info('decision ' + json.dumps(step.record(time.time())))
        if step.switch_to is not None:
            self._apply(step.switch_to)

    # -- encoder reconfiguration ------------------------------------------------------------
    def _apply(self, setting: EncoderSetting) -> None:
        if not (self.set_cli.service_is_ready() and self.state_cli.service_is_ready()):
            self.get_logger().warning('camera encoder services not ready; will retry on the next decision')
            return
        self.core.switch_started()
        req = SetParameters.Request(parameters=[_param(k, v) for k, v in setting.encoder_params().items()])
        self.set_cli.call_async(req).add_done_callback(lambda f: self._transition(setting, 0))

    def _transition(self, setting: EncoderSetting, step: int) -> None:
        if step == len(RELOAD):
            self.core.switch_done(setting, time.monotonic())
            self.get_logger().info(f'encoder now runs {setting}')
            return
        req = ChangeState.Request()
        req.transition.id = RELOAD[step]

        def done(f):
            ok = f.result() is not None and f.result().success
            if not ok and step != 0:  # step 0 may fail when already inactive (an earlier failed reload)
                self.get_logger().error(f'encoder transition {RELOAD[step]} failed for {setting}')
                self.core.switch_failed()
                return
            self._transition(setting, step + 1)
        self.state_cli.call_async(req).add_done_callback(done)


def main(args=None) -> int:
    """Console entry point (``rate_adapter``, ``python -m ladon_ros.ros.rate_adapter_node``)."""
    return run_node(RateAdapterNode, args)


if __name__ == '__main__':
    sys.exit(main())
