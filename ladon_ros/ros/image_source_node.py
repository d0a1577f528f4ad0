"""``image_source``: publishes ``image_raw`` (rgb8) from the synthetic world, a video, a folder or a camera."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ladon_ros.ros import qos
from ladon_ros.ros.common import run_node
from ladon_ros.ros.conversions import rgb_to_image
from ladon_ros.ros.params import ImageSourceConfig, declare, read

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')


class Frames:
    """Yields (H, W, 3) uint8 RGB frames of one source; ``next()`` returns None at the end."""

    def __init__(self, cfg: ImageSourceConfig):
        self.cfg, self.index = cfg, 0
        self._cap, self._files, self._gen = None, [], None
        if cfg.mode == 'synthetic':
            from ladon_ros.data.synthetic import SceneGenerator
            self._gen = SceneGenerator(image_size=(cfg.height, cfg.width), seed=cfg.seed)
        elif cfg.mode == 'folder':
            self._files = sorted(p for p in Path(cfg.path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise ValueError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {cfg.path}')
        else:
            self._cap = cv2.VideoCapture(cfg.path if cfg.mode == 'video' else cfg.camera_index)
            if not self._cap.isOpened():
                what = cfg.path if cfg.mode == 'video' else f'camera {cfg.camera_index}'
                raise ValueError(f'OpenCV cannot open {what}')

    def next(self) -> np.ndarray | None:
        """The next frame, or None when a non-looping source is exhausted (or a read failed)."""
        i, self.index = self.index, self.index + 1
        if self._gen is not None:
            return self._gen.sample(i).image
        if self._files:
            if i >= len(self._files) and not self.cfg.loop:
                return None
            bgr = cv2.imread(str(self._files[i % len(self._files)]), cv2.IMREAD_COLOR)
            return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        ok, bgr = self._cap.read()
        if not ok and self.cfg.mode == 'video' and self.cfg.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._cap.read()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok else None

    def close(self) -> None:
        """Releases the video / camera."""
        if self._cap is not None:
            self._cap.release()


class ImageSourceNode(Node):
    """Timer-driven publisher of ``image_raw`` (sensor QoS); stamp = capture time."""

    def __init__(self, **kwargs):
        super().__init__('image_source', **kwargs)
        declare(self, ImageSourceConfig)
        self.cfg = read(self, ImageSourceConfig)
        self.frames = Frames(self.cfg)
        self.published = 0
        self.pub = self.create_publisher(Image, 'image_raw', qos.SENSOR)
        self.timer = self.create_timer(1.0 / self.cfg.rate_hz, self._tick)
        self.get_logger().info(f'publishing {self.cfg.mode} images on {self.pub.topic_name} '
                               f'at {self.cfg.rate_hz} Hz')

    def _tick(self) -> None:
        if self.pub.get_subscription_count() < self.cfg.wait_for_subscribers:
            return
        if self.cfg.max_frames and self.published >= self.cfg.max_frames:
            self.timer.cancel()
            self.get_logger().info(f'published {self.published} frames (max_frames); idle')
            return
        rgb = self.frames.next()
        if rgb is None:
            self.timer.cancel()
            self.get_logger().info(f'source ended after {self.published} frames; idle')
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.cfg.frame_id)
        self.pub.publish(rgb_to_image(rgb, header))
        self.published += 1

    def close(self) -> None:
        """Releases the source."""
        self.frames.close()


def main(args=None) -> int:
    """Console entry point (``image_source``)."""
    return run_node(ImageSourceNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
