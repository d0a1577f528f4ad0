"""``robot_camera``: the camera and the encoder in one process, frames handed over in-process.

Real processes on DDS: the composed process publishes ``latent`` frames with no ``image_raw``
traffic between the two nodes (nothing is published on ``image_raw`` while no other process
subscribes to it), publishes ``image_raw`` once something subscribes, and its frames carry
the capture stamps of the camera node's images.
"""
from __future__ import annotations

import pytest

from ros_harness import NodeProcesses, Probe, ros_domain

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)

NS = '/composed'


def test_robot_camera_encodes_in_process_and_serves_image_raw_on_demand(tmp_path):
    from ladon_ros.msg import LatentFrame
    from ladon_ros.ros import qos
    from sensor_msgs.msg import Image

    domain = ros_domain('robot_camera')
    with NodeProcesses(domain, tmp_path) as procs, Probe('robot_camera_probe', domain) as probe:
        proc = procs.start('robot_camera', namespace=NS, params={
            'rate_hz': 10.0, 'width': 160, 'height': 120, 'synthetic_frames': 5})
        latents = probe.listen(LatentFrame, f'{NS}/latent', qos.LATENT)
        assert probe.spin_until(lambda: len(latents) >= 5, timeout=120), procs.log('robot_camera')[-3000:]
        # Nobody else reads image_raw: it has its publisher (the camera node) but carries nothing.
        assert probe.node.count_publishers(f'{NS}/image_raw') == 1
        assert latents[-1].codec == 'ladon' and len(latents[-1].data) > 0
        stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in latents]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        images = probe.listen(Image, f'{NS}/image_raw', qos.SENSOR)
        assert probe.spin_until(lambda: len(images) >= 3, timeout=30), 'image_raw not published to a subscriber'
        assert (images[-1].width, images[-1].height, images[-1].encoding) == (160, 120, 'rgb8')
        n = len(latents)
        assert probe.spin_until(lambda: len(latents) >= n + 3, timeout=30)
        # A frame encoded while image_raw was subscribed is the image the subscriber got.
        by_stamp = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in images}
        assert any((m.header.stamp.sec, m.header.stamp.nanosec) in by_stamp for m in latents[n:])
        assert proc.poll() is None
