"""``robot_camera`` (robot side): ``image_source`` and ``camera_encoder`` in one process.

The two nodes as they are (names, parameters, topics, diagnostics), with the camera's frames
handed to the encoder by a function call instead of over DDS. A weak robot CPU saves what
taking each raw image costs the encoder process (Fast DDS reassembling 0.9 MB per 640x480
frame, rclpy converting it, the executor wake: 8.0-8.8 -> 6.0-6.2 ms of CPU per encoded
frame, docs/ros_nodes.md), and no image is lost between camera and encoder: the Python
counterpart of composing a C++ camera driver with its consumer. ``image_raw`` is still
published while another process subscribes to it (RViz).

Parameters go to each node by its name (``image_source:`` and ``camera_encoder:`` sections
of a params file, or ``-p image_source:rate_hz:=10``); a plain ``-p name:=value`` reaches
whichever of the two declares ``name``.
"""
from __future__ import annotations

from ladon_ros.ros.camera_encoder_node import CameraEncoderNode
from ladon_ros.ros.common import run_node
from ladon_ros.ros.image_source_node import ImageSourceNode


def make_nodes() -> list:
    """The camera and the encoder, wired in-process (the encoder takes frames while active)."""
    camera = ImageSourceNode()
    encoder = CameraEncoderNode(subscribe=False)
    camera.attach(encoder.encode_image, ready=lambda: encoder.active)
    return [camera, encoder]


def main(args=None) -> int:
    """Console entry point (``robot_camera``)."""
    return run_node(make_nodes, args)


if __name__ == '__main__':
    raise SystemExit(main())
