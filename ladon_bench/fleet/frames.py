"""Frames encoded beforehand by the real camera encoder, so a robot replays them without torch.

``python -m ladon_bench.fleet.frames --setting ladon@1 --out f.json`` encodes ``--count``
synthetic camera images with the encoder ``camera_encoder`` runs by default (the ONNX back
end for Ladon: onnxruntime + numpy + rANS; OpenCV/Pillow for image codecs) and writes them
with ``ladon_ros.codec.wire.save_frames``. Each frame keeps its own ``encode_ms``, so the
robot-side encode cost travels with it (FrameStats.encode_ms) and is added to the floor.
The harness runs it on the robot's core, inside the robot CPU quota when one is set, so
``encode_ms`` is that of the robot under test.
"""
from __future__ import annotations

import argparse
import json
import sys


def encoder_for(setting_text: str):
    """The camera encoder of an encoder setting (``raw``, ``jpeg@75``, ``ladon@1``, ``ladon:<file>``)."""
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.rate.setting import LADON, EncoderSetting
    from ladon_ros.weights import shipped_camera_bundle
    s = EncoderSetting.parse(setting_text)
    if s.codec == LADON:
        bundle = shipped_camera_bundle(s.checkpoint, '', float(s.rate_point or 0.0))
        return make_camera_encoder(codec=LADON, backend='onnx', onnx_dir=bundle, threads=1)
    # Image codecs only need the model input size, read from the default bundle (no torch).
    return make_camera_encoder(codec=s.codec, quality=s.quality_or_default(), backend='onnx',
                               onnx_dir=shipped_camera_bundle())


def encode_frames(setting_text: str, *, count: int, width: int, height: int, seed: int = 7) -> list:
    """``count`` synthetic scenes of ``width`` x ``height`` encoded with ``setting_text``."""
    from ladon_ros.world import SceneGenerator
    enc = encoder_for(setting_text)
    gen = SceneGenerator(image_size=(height, width), seed=seed)
    images = [gen.sample(i).image for i in range(count)]
    enc.encode(images[0])  # warm-up (allocations, ONNX session), not kept
    return [enc.encode(img) for img in images]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry; prints a JSON summary (bytes, encode ms) on its last line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--setting', required=True)
    p.add_argument('--count', type=int, default=8)
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--out', required=True)
    a = p.parse_args(argv)
    from ladon_ros.codec.wire import save_frames
    frames = encode_frames(a.setting, count=a.count, width=a.width, height=a.height)
    save_frames(a.out, frames)
    ms = sorted(f.encode_ms for f in frames)
    print(json.dumps({'setting': a.setting, 'frames': len(frames), 'codec': frames[0].codec,
                      'rate_point': frames[0].rate_point,
                      'bytes_mean': sum(len(f.payload) for f in frames) / len(frames),
                      'encode_ms_p50': ms[len(ms) // 2], 'torch_imported': 'torch' in sys.modules}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
