"""``camera_encoder`` (robot side): ``image_raw`` -> encode -> ``latent`` (LatentFrame).

Any camera driver's ``sensor_msgs/Image`` works. Both topics use keep-latest QoS: when
encoding or the link is slower than the camera, old images are dropped, never queued.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ladon_ros.camera import make_camera_encoder
from ladon_ros.errors import FrameRejected
from ladon_ros.msg import LatentFrame
from ladon_ros.ros import qos
from ladon_ros.ros.common import run_node
from ladon_ros.ros.conversions import image_to_rgb, wire_to_latent
from ladon_ros.ros.diagnostics import Diagnostics, status
from ladon_ros.ros.managed import ManagedModelNode
from ladon_ros.ros.params import CameraEncoderConfig
from ladon_ros.ros.stats import PipelineStats


class CameraEncoderNode(ManagedModelNode):
    """Encodes every camera image it gets with the configured codec.

    Args:
        subscribe: Read ``image_raw``; False when the images come in-process from the
            camera in the same process (``encode_image``, ``robot_camera``).
    """

    CONFIG = CameraEncoderConfig

    def __init__(self, subscribe: bool = True, **kwargs):
        self.subscribe = subscribe
        super().__init__('camera_encoder', **kwargs)
        self.encoder = None
        self.sub = self.pub = None
        self.sequence = 0
        self.stats = PipelineStats(stages=('encode',))  # served = encoded; rejected = unreadable images
        self.diagnostics = Diagnostics(self, self._diagnostic_statuses)
        self.autostart()

    @property
    def bad_images(self) -> int:
        """Camera images dropped because they could not be read (all reasons)."""
        return sum(self.stats.rejected.values())

    def load(self, cfg: CameraEncoderConfig) -> None:
        source = self.load_model(cfg)
        self.pub = self.create_lifecycle_publisher(LatentFrame, 'latent', qos.LATENT)
        if self.subscribe:
            self.sub = self.create_subscription(Image, 'image_raw', self._on_image, qos.SENSOR)
        what = f'{self.metas[0].model_id} rate point {self.metas[0].rate_point} ({source})' \
            if self.metas else f'{cfg.codec} quality {cfg.image_quality}'
        images = self.sub.topic_name if self.sub is not None else 'the camera in this process'
        self.get_logger().info(f'encoding {images} -> {self.pub.topic_name} with {what}')

    def load_model(self, cfg: CameraEncoderConfig) -> str:
        """Builds the encoder; returns where its weights came from (for the log)."""
        onnx_dir = (cfg.onnx_dir or self._shipped_bundle(cfg)) if cfg.backend == 'onnx' else ''
        if onnx_dir:  # onnxruntime + numpy: torch is never imported
            self.encoder = make_camera_encoder(codec=cfg.codec, quality=cfg.image_quality, backend='onnx',
                                               onnx_dir=onnx_dir, threads=cfg.threads)
            source = f'ONNX {onnx_dir}'
        else:
            from ladon_ros.weights import resolve_ladon_checkpoint
            path = resolve_ladon_checkpoint(cfg.checkpoint, cfg.model, cfg.rate_point)
            self.encoder = make_camera_encoder(codec=cfg.codec, checkpoint=path, quality=cfg.image_quality,
                                               device=cfg.device)
            source = path.name
        identity = self.encoder.identity  # ModelIdentity (both back ends); None for an image codec
        self.metas = [identity] if identity is not None else []
        return source

    def _shipped_bundle(self, cfg: CameraEncoderConfig) -> str:
        """The shipped bundle of the selected checkpoint; '' (torch) for an own checkpoint without one."""
        from ladon_ros.config import ConfigError
        from ladon_ros.weights import shipped_camera_bundle
        try:
            return str(shipped_camera_bundle(cfg.checkpoint, cfg.model, cfg.rate_point))
        except ConfigError:
            if not cfg.checkpoint:
                raise  # a shipped rate point / model that does not exist: the torch path refuses it too
        self.get_logger().warning(f'{cfg.checkpoint} has no ONNX bundle (not shipped, onnx_dir empty): it runs on '
                                  'the torch back end; `ladon-ros export` it and set onnx_dir to run without torch')
        return ''

    def model_loaded(self) -> bool:
        return self.encoder is not None

    def free_model(self) -> None:
        self.encoder = None

    def unload(self) -> None:
        if self.sub is not None:
            self.destroy_subscription(self.sub)
        if self.pub is not None:
            self.destroy_lifecycle_publisher(self.pub)
        self.sub = self.pub = self.encoder = None

    def _on_image(self, msg: Image) -> None:
        if not self.active:
            return
        try:
            rgb = image_to_rgb(msg)
        except FrameRejected as err:
            self.stats.on_rejected(err.reason)
            self.log.warning(err.reason, f'dropping camera image: {err} '
                             f'({self.stats.rejected[err.reason]} {err.reason} so far)')
            return
        self.encode_image(rgb, msg.header)

    def encode_image(self, rgb: np.ndarray, header: Header) -> None:
        """Encodes and publishes one (H, W, 3) uint8 RGB image (``header``: its capture)."""
        if not self.active:
            return
        frame = self.encoder.encode(rgb)
        self.pub.publish(wire_to_latent(frame, header, self.sequence))
        self.sequence += 1
        self.stats.on_served(len(frame.payload), {'encode': frame.encode_ms}, self.get_clock().now().nanoseconds)

    def _diagnostic_statuses(self) -> list:
        values = self.stats.summary(self.get_clock().now().nanoseconds)
        values['frames_encoded'] = values.pop('frames_served')
        values['images_rejected'] = values.pop('frames_rejected')
        values.pop('frames_dropped_stale')  # DDS keeps only the newest image; nothing queues here
        serving = f'encoding {self.cfg.codec}' if self.cfg else ''
        level, text = self.health(serving=serving, rejected=self.stats.rejected,
                                  rejected_what='unreadable camera images')
        return [status('camera_encoder: encoder', self.get_fully_qualified_name(), level, text, values)]


def main(args=None) -> int:
    """Console entry point (``camera_encoder``)."""
    return run_node(CameraEncoderNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
