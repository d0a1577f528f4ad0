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
from ros_harness import ros_domain

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)


@pytest.fixture()
def ros(tmp_path, monkeypatch):
    monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path))
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros_domain('ros_lifecycle')))
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
        Parameter('checkpoints', value=[a]), Parameter('serve_image_codecs', value=False),
        Parameter('discover_robots', value=False), Parameter('robot_namespaces', value=['/r1'])])
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


def _rss_mb() -> float:
    with open('/proc/self/status', encoding='ascii') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:')) / 1024


def test_edge_deactivate_frees_the_model_and_activate_reloads_it(ros, capsys):
    import gc
    import weakref

    from ladon_ros.ros.edge_perception_node import EdgePerceptionNode
    from ladon_ros.weights import random_checkpoint
    a = str(random_checkpoint('ladon_resnet50', seed=0))  # the paper model: ~100 MB of weights
    node = EdgePerceptionNode(parameter_overrides=[
        Parameter('checkpoints', value=[a]), Parameter('serve_image_codecs', value=False),
        Parameter('discover_robots', value=False), Parameter('robot_namespaces', value=['/r1'])])
    try:
        frame = latent_to_wire(wire_to_latent(make_camera_encoder(codec='ladon', checkpoint=a).encode(
            np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)), Header(), 0))
        gc.collect()
        rss_active = _rss_mb()
        edge_ref = weakref.ref(node.edge)
        model = next(iter(node.edge.models.values())).side  # the EdgeSide module (no bundle: torch)
        weights_mb = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 2**20
        model_ref = weakref.ref(model)
        del model
        assert node.trigger_deactivate() == rclpy.lifecycle.TransitionCallbackReturn.SUCCESS
        rss_inactive = _rss_mb()
        # Nothing holds the model any more; the validated config stays. The robots are
        # released (an inactive edge announces 'not serving': other edges take them over).
        assert edge_ref() is None and model_ref() is None and node.edge is None
        assert node.cfg is not None and not node.robots and not node.active
        assert node.health(serving='', rejected={}, rejected_what='')[1].startswith('inactive')
        assert node.trigger_activate() == rclpy.lifecycle.TransitionCallbackReturn.SUCCESS
        rss_again = _rss_mb()
        assert node.active and node.edge is not None and [r.ns for r in node.robots] == ['/r1']
        assert node.edge.infer([node.edge.prepare(frame)])[0].segmentation.shape == (120, 160)
        with capsys.disabled():
            print(f'\n[lifecycle] edge with ladon_resnet50 ({weights_mb:.0f} MB of weights): RSS '
                  f'{rss_active:.0f} MB active -> {rss_inactive:.0f} MB after deactivate -> '
                  f'{rss_again:.0f} MB after activate')
        assert rss_active - rss_inactive > 0.6 * weights_mb  # the weights went back to the OS
    finally:
        node.close()
        node.destroy_node()


def test_activate_after_the_checkpoint_vanished_fails_cleanly_and_recovers(ros, tmp_path):
    import shutil

    from ladon_ros.ros.camera_encoder_node import CameraEncoderNode
    a, _ = _ckpts()
    ckpt = tmp_path / 'cam.safetensors'
    shutil.copy(a, ckpt)
    node = CameraEncoderNode(parameter_overrides=[Parameter('checkpoint', value=str(ckpt))])
    try:
        assert node.active and node.encoder is not None
        assert node.trigger_deactivate() == rclpy.lifecycle.TransitionCallbackReturn.SUCCESS
        assert node.encoder is None and node.pub is not None  # model freed, topics kept
        ckpt.rename(tmp_path / 'moved.safetensors')
        assert node.trigger_activate() == rclpy.lifecycle.TransitionCallbackReturn.FAILURE
        assert 'activate:' in node._error and not node.active and node.encoder is None
        (tmp_path / 'moved.safetensors').rename(ckpt)
        assert node.trigger_activate() == rclpy.lifecycle.TransitionCallbackReturn.SUCCESS
        rgb = np.zeros((64, 64, 3), np.uint8)
        assert node.active and node.encoder.encode(rgb).payload
    finally:
        node.close()
        node.destroy_node()
