"""Lifecycle of the model nodes in one process: autostart, cleanup frees, reconfigure swaps weights."""
from __future__ import annotations

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from ladon_ros.camera import make_camera_encoder
from ladon_ros.errors import FrameRejected
from ladon_ros.ros.conversions import latent_to_wire, wire_to_latent
from ladon_ros.ros.params import ConfigError

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)


@pytest.fixture()
def ros(tmp_path, monkeypatch):
    monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path))
    monkeypatch.setenv('ROS_DOMAIN_ID', '28')
    rclpy.init()
    yield
    rclpy.shutdown()


def _ckpts():
    from ladon_ros.weights import random_checkpoint
    return str(random_checkpoint('ladon_small', seed=0)), str(random_checkpoint('ladon_small', seed=1))


def test_edge_reconfigure_with_other_weights_without_restart(ros):
    from ladon_ros.ros.edge_perception_node import EdgePerceptionNode
    a, b = _ckpts()
    node = EdgePerceptionNode(parameter_overrides=[
        Parameter('checkpoints', value=[a]), Parameter('serve_image_codecs', value=False)])
    try:
        assert node.active and node.edge is not None
        hash_a = set(node.edge.served_models)
        rgb = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
        frame_b = wire_to_latent(make_camera_encoder(codec='ladon', checkpoint=b).encode(rgb), Header(), 0)
        with pytest.raises(FrameRejected, match='weights_mismatch'):
            node.edge.prepare(latent_to_wire(frame_b))
        assert node.trigger_deactivate() == node.trigger_cleanup() == rclpy.lifecycle.TransitionCallbackReturn.SUCCESS
        assert node.edge is None and not node.robots and not node.active  # cleanup freed model and topics
        node.set_parameters([Parameter('checkpoints', value=[b])])
        node.trigger_configure()
        node.trigger_activate()
        assert node.active and set(node.edge.served_models) != hash_a
        assert node.edge.prepare(latent_to_wire(frame_b)).key == latent_to_wire(frame_b).weights_hash
    finally:
        node.close()
        node.destroy_node()


def test_camera_encoder_lifecycle_and_config_errors(ros):
    from ladon_ros.ros.camera_encoder_node import CameraEncoderNode
    node = CameraEncoderNode(parameter_overrides=[Parameter('autostart', value=False)])
    try:
        assert node.encoder is None and not node.active
        node.set_parameters([Parameter('codec', value='jpeg'), Parameter('quality', value=0)])
        assert node.trigger_configure() == rclpy.lifecycle.TransitionCallbackReturn.FAILURE
        assert 'quality' in node._error and node.encoder is None
        node.set_parameters([Parameter('quality', value=80)])
        node.trigger_configure()
        node.trigger_activate()
        assert node.active and node.encoder.codec == 'jpeg' and node.encoder.quality == 80
    finally:
        node.close()
        node.destroy_node()
    with pytest.raises(ConfigError, match="device: 'gpu' is not a torch device"):
        CameraEncoderNode(parameter_overrides=[Parameter('device', value='gpu')])
