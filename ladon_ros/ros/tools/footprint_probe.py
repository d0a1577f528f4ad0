"""The ROS end of ``ladon-ros bench-robot``: feeds a robot-side node and notes its first output.

``python -m ladon_ros.ros.tools.footprint_probe --listen latent [--feed-images]`` (in the robot's
namespace, ``-r __ns:=/robot1`` style via ``--namespace``):

- ``--feed-images`` publishes 320x240 rgb8 noise on ``image_raw`` at ``--rate`` Hz (sensor
  QoS), so a ``camera_encoder`` under test has input the moment it subscribes;
- ``--feed-latents`` publishes Ladon frames of such images on ``latent`` (the shipped ONNX
  camera bundle), and ``--listen results`` subscribes to the four compact result topics
  (so an ``edge_perception`` under test runs every head) and notes ``classification``;
- prints ``READY`` once its publisher and subscriber exist, then ``FIRST <t>`` when the
  first message arrives on ``--listen`` (``t`` = ``time.monotonic()``, one clock for every
  process of the host, so the caller compares it with its own spawn time), and
  ``COUNT <n>`` at exit (SIGINT).

The probe is started before the node under test, so its own start-up is not measured.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ladon_ros.ros import qos

IMAGE_HW = (240, 320)


class FootprintProbe(Node):
    """Optionally publishes images; reports the first message on the listened topic."""

    def __init__(self, listen: str, feed_images: bool, rate_hz: float, namespace: str, feed_latents: bool = False):
        super().__init__('footprint_probe', namespace=namespace)
        self.count = self.sent = 0
        if listen == 'latent':
            from ladon_ros.msg import LatentFrame
            self.sub = self.create_subscription(LatentFrame, 'latent', self._on_message, qos.LATENT)
        elif listen == 'results':  # an edge: all four compact result topics, so every head runs
            from sensor_msgs.msg import CompressedImage

            from ladon_ros.msg import Classification, Detection2DArray, FrameStats
            self.subs = [self.create_subscription(t, f'perception/{n}', self._on_message if n == 'classification'
                                                  else (lambda m: None), qos.RESULTS)
                         for t, n in ((Classification, 'classification'), (Detection2DArray, 'detections'),
                                      (CompressedImage, 'segmentation/compressed'), (FrameStats, 'frame_stats'))]
        else:
            self.sub = self.create_subscription(Image, 'image_raw', self._on_message, qos.SENSOR)
        self.pub = None
        if feed_latents:  # frames of the shipped camera bundle (ONNX, no torch)
            from ladon_ros.camera import make_camera_encoder
            from ladon_ros.msg import LatentFrame
            from ladon_ros.ros.conversions import wire_to_latent
            from ladon_ros.weights import shipped_camera_bundle
            cam = make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=shipped_camera_bundle())
            rng = np.random.default_rng(0)
            self._frames = [cam.encode(rng.integers(0, 256, (*IMAGE_HW, 3), dtype=np.uint8)) for _ in range(4)]
            self._to_msg = wire_to_latent
            self.pub = self.create_publisher(LatentFrame, 'latent', qos.LATENT)
            self.timer = self.create_timer(1.0 / rate_hz, self._publish_latent)
        if feed_images:
            self.pub = self.create_publisher(Image, 'image_raw', qos.SENSOR)
            rng = np.random.default_rng(0)
            self._images = [rng.integers(0, 256, (*IMAGE_HW, 3), dtype=np.uint8) for _ in range(4)]
            self.timer = self.create_timer(1.0 / rate_hz, self._publish)

    def _publish(self) -> None:
        rgb = self._images[self.sent % len(self._images)]
        self.sent += 1
        msg = Image(height=IMAGE_HW[0], width=IMAGE_HW[1], encoding='rgb8', is_bigendian=0, step=IMAGE_HW[1] * 3)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.data = rgb.tobytes()
        self.pub.publish(msg)

    def _publish_latent(self) -> None:
        header = Header(stamp=self.get_clock().now().to_msg())
        self.pub.publish(self._to_msg(self._frames[self.sent % len(self._frames)], header, self.sent))
        self.sent += 1

    def _on_message(self, msg) -> None:
        if self.count == 0:
            print(f'FIRST {time.monotonic():.6f}', flush=True)
        self.count += 1


def main(argv: list[str] | None = None) -> int:
    """Console entry (``python -m ladon_ros.ros.tools.footprint_probe``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--listen', choices=['latent', 'image_raw', 'results'], required=True)
    p.add_argument('--feed-latents', action='store_true', help='publish Ladon frames on latent (an edge under test)')
    p.add_argument('--feed-images', action='store_true')
    p.add_argument('--rate', type=float, default=20.0, help='image rate with --feed-images [Hz]')
    p.add_argument('--namespace', default='/robot1')
    args = p.parse_args(argv)
    rclpy.init(args=[])
    node = FootprintProbe(args.listen, args.feed_images, args.rate, args.namespace, args.feed_latents)
    print('READY', flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        print(f'COUNT {node.count}', flush=True)
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
