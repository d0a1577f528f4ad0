"""``image_source``: publishes ``image_raw`` (rgb8) from the synthetic world, a video, a folder or a camera.

The frames come from ``ladon_ros.sources.ImageSource``, which skips unreadable files,
reopens a failing video and retries a lost camera instead of ending the stream; this node
logs those events (rate-limited) and reports their counts on ``/diagnostics``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ladon_ros.ros import qos
from ladon_ros.ros.common import RateLimitedLog, run_node
from ladon_ros.ros.conversions import rgb_to_image
from ladon_ros.ros.diagnostics import Diagnostics, status
from ladon_ros.ros.params import ImageSourceConfig, declare, read
from ladon_ros.sources import ImageSource


class ImageSourceNode(Node):
    """Timer-driven publisher of ``image_raw`` (sensor QoS); stamp = capture time.

    In one process with its consumer (``robot_camera``), ``attach`` hands each frame over
    directly; ``image_raw`` is then published only while something else subscribes to it.
    """

    def __init__(self, **kwargs):
        super().__init__('image_source', **kwargs)
        declare(self, ImageSourceConfig)
        self.cfg = read(self, ImageSourceConfig)
        self.source = ImageSource(self.cfg)
        self.published = 0
        self._sink = self._sink_ready = None
        self.log = RateLimitedLog(self.get_logger())
        self.pub = self.create_publisher(Image, 'image_raw', qos.SENSOR)
        self.timer = self.create_timer(1.0 / self.cfg.rate_hz, self._tick)
        self.diagnostics = Diagnostics(self, self._statuses)
        self._report()  # a camera missing at start is said at once
        self.get_logger().info(f'publishing {self.source.what} on {self.pub.topic_name} at {self.cfg.rate_hz} Hz'
                               + (f' once {self.cfg.wait_for_subscribers} subscriber(s) matched'
                                  if self.cfg.wait_for_subscribers else ''))

    def attach(self, sink: Callable[[np.ndarray, Header], None], ready: Callable[[], bool]) -> None:
        """Hands every frame to ``sink(rgb, header)`` in this process (a consumer that counts
        as one subscriber while ``ready()``), besides ``image_raw`` for other subscribers."""
        self._sink, self._sink_ready = sink, ready
        self.get_logger().info(f'frames go to the encoder in this process; {self.pub.topic_name} is published '
                               'only while another process subscribes to it')

    def _tick(self) -> None:
        in_process = self._sink is not None and self._sink_ready()
        topic_readers = self.pub.get_subscription_count()
        if topic_readers + in_process < self.cfg.wait_for_subscribers:
            return
        if self.cfg.max_frames and self.published >= self.cfg.max_frames:
            self.timer.cancel()
            self.get_logger().info(f'published {self.published} frames (max_frames); idle')
            return
        rgb = self.source.next()
        self._report()
        if rgb is None:
            if self.source.ended:
                self.timer.cancel()
                self.get_logger().info(f'{self.source.what} ended (loop false) after {self.published} frames; idle')
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.cfg.frame_id)
        if self._sink is None or topic_readers:
            self.pub.publish(rgb_to_image(rgb, header))
        if in_process:
            self._sink(rgb, header)
        self.published += 1

    def _report(self) -> None:
        for event in self.source.events():
            if event.reason == 'camera_back':
                self.get_logger().info(event.text)
            else:
                self.log.warning(event.reason, f'{event.text} ({self.source.problems[event.reason]} '
                                 f'{event.reason} so far)')

    def _statuses(self) -> list[DiagnosticStatus]:
        src = self.source
        state = src.state()
        level = DiagnosticStatus.WARN if state == 'retrying' or src.problems else DiagnosticStatus.OK
        text = f'{state}: {src.what}'
        if src.problems:
            text += f'; skipped or failed: {dict(src.problems)}'
        values = {'state': state, 'frames_published': self.published,
                  **{f'problems.{k}': v for k, v in sorted(src.problems.items())},
                  **{f'converted.{k}': v for k, v in sorted(src.conversions.items())}}
        return [status('image_source: source', self.get_fully_qualified_name(), level, text, values)]

    def close(self) -> None:
        """Releases the source."""
        self.source.close()


def main(args=None) -> int:
    """Console entry point (``image_source``)."""
    return run_node(ImageSourceNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
