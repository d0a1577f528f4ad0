"""The camera encoder's bad-image path and its torch-free ONNX back end (sources: test_sources.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ladon_ros.ros.conversions import rgb_to_image
from ros_harness import ros_domain

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)


def test_camera_encoder_counts_bad_images_and_encodes_the_next(tmp_path, monkeypatch):
    monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path))
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros_domain('ros_sources')))
    rclpy.init()
    try:
        from ladon_ros.ros.camera_encoder_node import CameraEncoderNode
        node = CameraEncoderNode(parameter_overrides=[Parameter('codec', value='jpeg')])
        sent = []
        node.pub.publish = sent.append  # observe what would go on the wire
        bad = Image(height=4, width=4, encoding='32FC1', step=16)
        bad.data = bytes(64)
        node._on_image(bad)
        node._on_image(Image(height=0, width=0, encoding='rgb8'))
        assert node.bad_images == 2 and not sent
        assert dict(node.stats.rejected) == {'unsupported_encoding': 1, 'bad_image_size': 1}
        node._on_image(rgb_to_image(np.zeros((30, 40, 3), np.uint8), Header(frame_id='cam')))
        assert len(sent) == 1 and sent[0].header.frame_id == 'cam' and sent[0].codec == 'jpeg'
        assert (sent[0].image_width, sent[0].image_height, sent[0].sequence) == (40, 30, 0)
        diags = []
        node.diagnostics.pub.publish = diags.append
        node.diagnostics.publish()
        values = {kv.key: kv.value for kv in diags[0].status[0].values}
        assert values['frames_encoded'] == '1' and values['rejected.unsupported_encoding'] == '1'
        assert values['encode_ms_p50'] != 'n/a' and 'unreadable camera images' in diags[0].status[0].message
        node.close()
        node.destroy_node()
    finally:
        rclpy.shutdown()


NODE_WITHOUT_TORCH = textwrap.dedent('''
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == 'torch' or name.startswith('torch.'):
                raise ImportError('torch is blocked in this test')
    sys.meta_path.insert(0, _NoTorch())
    import numpy as np, rclpy
    from rclpy.parameter import Parameter
    from std_msgs.msg import Header
    from ladon_ros.ros.camera_encoder_node import CameraEncoderNode
    from ladon_ros.ros.conversions import rgb_to_image
    rclpy.init()
    node = CameraEncoderNode(parameter_overrides=[Parameter('backend', value='onnx'),
                                                  Parameter('onnx_dir', value=sys.argv[1])])
    sent = []
    node.pub.publish = sent.append
    node._on_image(rgb_to_image(np.zeros((60, 80, 3), np.uint8), Header(frame_id='cam')))
    assert 'torch' not in sys.modules
    print('SENT', sent[0].codec, sent[0].model_id, len(sent[0].data), node.metas[0].notes[:14])
    node.close(); node.destroy_node(); rclpy.shutdown()
''')


def test_camera_encoder_node_onnx_backend_runs_without_torch(tmp_path, monkeypatch):
    from ladon_ros.export.bundle import export_camera_bundle
    from ladon_ros.ros.common import RANDOM_PREFIX
    from ladon_ros.weights import RANDOM_NOTE, random_checkpoint
    assert RANDOM_NOTE.startswith(RANDOM_PREFIX)
    monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path))
    export_camera_bundle(random_checkpoint('ladon_small'), tmp_path / 'bundle')
    env = {**os.environ, 'ROS_DOMAIN_ID': str(ros_domain('ros_sources'))}
    out = subprocess.run([sys.executable, '-c', NODE_WITHOUT_TORCH, str(tmp_path / 'bundle')], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'SENT ladon ladon_small' in out.stdout and 'RANDOM WEIGHTS' in out.stdout
    assert 'RANDOM WEIGHTS' in out.stderr  # the loud warning, also on the ONNX path
