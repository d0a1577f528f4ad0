"""``RobotSide.compress`` / ``EdgeSide.decompress`` are the reference path of the runtime.

The camera encoder's payload body is CompressAI's string for the same symbols, and the
edge's decode (``EdgePerception.prepare``) gives exactly ``decompress``'s features.
"""
import numpy as np
import torch

from ladon_ros.camera import make_camera_encoder
from ladon_ros.checkpoint import load_checkpoint
from ladon_ros.codec import bitstream
from ladon_ros.codec.preprocess import resize_rgb, to_tensor
from ladon_ros.world import SceneGenerator
from ladon_ros.edge import EdgePerception
from ladon_ros.weights import default_checkpoint, shipped_camera_bundle

torch.set_num_threads(1)


def test_camera_body_is_compress_and_edge_decode_is_decompress():
    path = default_checkpoint('ladon')
    model, meta = load_checkpoint(path)
    robot, edge_side = model.robot_side().eval(), model.edge_side().eval()
    cameras = [make_camera_encoder(codec='ladon', checkpoint=path),
               make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=shipped_camera_bundle())]
    edge = EdgePerception([(model, meta)])
    gen = SceneGenerator(image_size=(240, 320), seed=3)
    compared = 0
    for i in range(6):
        rgb = gen.sample(i).image
        ref = robot.compress(to_tensor(resize_rgb(rgb, meta.input_size), meta.mean, meta.std))
        for cam in cameras:
            frame = cam.encode(rgb)
            header, body = bitstream.parse(frame.payload)
            assert header.shape[1:] == ref['shape']
            if cam.stats.changed:  # CompressAI's float32 rounding flipped a near-boundary value
                continue
            assert body == ref['strings'][0][0]
            compared += 1
            features = edge.prepare(frame).tensor
            assert torch.equal(features, edge_side.decompress(ref['strings'], ref['shape']))
    assert compared >= 6
