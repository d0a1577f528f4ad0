"""Bag size per robot-hour and offline replay throughput (``ladon-ros bench-bag``).

Each setting records ``frames`` synthetic camera frames as one robot would: the
``LatentFrame`` stream of the camera encoder (Ladon rate points, JPEG q75 / q90 and the
``raw`` codec, all at the model input size) and, for what logging the camera itself costs,
the full camera frame as ``sensor_msgs/Image`` rgb8 and as a JPEG q90 ``CompressedImage``.
Every stream is written to a real bag (``BagWriter``: MCAP, zstd chunks, as rosbag2's default)
and the folder's size on disk is scaled to one hour at ``hz``. Synthetic scenes are cleaner
than a real camera's, so the two camera rows (zstd, JPEG) are lower bounds; the entropy-coded
latent does not compress further. Replay throughput: the Ladon bag of the first rate point
through ``ladon_ros.bag.replay`` on ``torch`` threads = 1.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2

from ladon_ros.bag.rosbag2 import BagWriter


def _header(i: int, hz: float) -> dict:
    t = 1_700_000_000 + i / hz
    return {'stamp': {'sec': int(t), 'nanosec': int(round((t % 1) * 1e9))}, 'frame_id': 'camera_optical_frame'}


def _latent_fields(frame, i: int, hz: float) -> dict:
    return {'header': _header(i, hz), 'sequence': i, 'image_width': frame.image_size[1],
            'image_height': frame.image_size[0], 'codec': frame.codec, 'model_id': frame.model_id,
            'weights_hash': frame.weights_hash, 'rate_point': float(frame.rate_point),
            'latent_shape': list(frame.latent_shape), 'data': bytes(frame.payload), 'encode_ms': float(frame.encode_ms)}


def _settings():
    """(row name, topic type, encoder or None for the camera image rows, camera JPEG quality)."""
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.weights import default_checkpoint, ladon_rate_points
    rows = [(f'ladon beta {m.rate_point:g}', 'ladon_ros/msg/LatentFrame',
             make_camera_encoder(codec='ladon', checkpoint=p), None) for p, m in ladon_rate_points()]
    ckpt = default_checkpoint('ladon')
    rows += [(f'jpeg q{q} (model input)', 'ladon_ros/msg/LatentFrame',
              make_camera_encoder(codec='jpeg', quality=q, checkpoint=ckpt), None) for q in (75, 90)]
    rows.append(('raw codec (model input)', 'ladon_ros/msg/LatentFrame',
                 make_camera_encoder(codec='raw', checkpoint=ckpt), None))
    rows.append(('camera image rgb8', 'sensor_msgs/msg/Image', None, None))
    rows.append(('camera jpeg q90', 'sensor_msgs/msg/CompressedImage', None, 90))
    return rows


def run_bag_bench(frames: int = 100, size: tuple[int, int] = (480, 640), hz: float = 10.0,
                  replay_frames: int = 200, workdir: str | Path | None = None) -> tuple[list[dict], dict]:
    """Writes one bag per setting and replays the first Ladon one.

    Args:
        frames: Camera frames per setting.
        size: Camera (height, width).
        hz: Camera rate for the per-hour figure.
        replay_frames: Latent frames replayed for the throughput (the bag is read in a loop).
        workdir: Where the bags go (default: a temporary folder, removed afterwards).

    Returns:
        Rows (name, bytes_per_frame on the wire, bag_bytes_per_frame, GB_per_robot_hour,
        x_smaller_than_camera) and the replay figures.
    """
    from ladon_ros.world import SceneGenerator
    gen = SceneGenerator(image_size=size, seed=7)
    images = [gen.sample(i).image for i in range(frames)]
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix='ladon_bagbench_'))
    rows, first_ladon = [], None
    try:
        for k, (name, msgtype, encoder, jpeg_q) in enumerate(_settings()):
            bag = tmp / f'bag{k}'
            wire = 0
            with BagWriter(bag) as writer:
                writer.add_topic('/robot1/latent' if encoder else '/robot1/image_raw', msgtype)
                topic = next(iter(writer._topics))
                for i, rgb in enumerate(images):
                    t = int((1_700_000_000 + i / hz) * 1e9)
                    if encoder is not None:
                        f = encoder.encode(rgb)
                        wire += len(f.payload)
                        writer.write_fields(topic, _latent_fields(f, i, hz), t)
                    elif jpeg_q is None:
                        wire += rgb.nbytes
                        writer.write_fields(topic, {'header': _header(i, hz), 'height': size[0], 'width': size[1],
                                                    'encoding': 'rgb8', 'is_bigendian': 0, 'step': size[1] * 3,
                                                    'data': rgb.tobytes()}, t)
                    else:
                        ok, jpg = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                               [cv2.IMWRITE_JPEG_QUALITY, jpeg_q])
                        wire += jpg.size
                        writer.write_fields(topic, {'header': _header(i, hz), 'format': 'jpeg',
                                                    'data': jpg.tobytes()}, t)
            disk = sum(p.stat().st_size for p in bag.iterdir())
            rows.append({'name': name, 'bytes_per_frame': round(wire / frames),
                         'bag_bytes_per_frame': round(disk / frames),
                         'GB_per_robot_hour': round(disk / frames * hz * 3600 / 1e9, 3)})
            if first_ladon is None and name.startswith('ladon'):
                first_ladon = bag
        camera = next(r for r in rows if r['name'] == 'camera image rgb8')['bag_bytes_per_frame']
        for r in rows:
            r['x_smaller_than_camera'] = round(camera / r['bag_bytes_per_frame'], 1)
        return rows, _replay_throughput(first_ladon, replay_frames)
    finally:
        if not workdir:
            shutil.rmtree(tmp, ignore_errors=True)


def _replay_throughput(bag: Path, frames: int) -> dict:
    """Frames/s of ``replay`` on one torch thread over ``frames`` frames (bag read repeatedly)."""
    import torch

    from ladon_ros.bag.replay import replay
    from ladon_ros.edge import EdgePerception
    from ladon_ros.weights import ladon_rate_points
    torch.set_num_threads(1)
    edge = EdgePerception.from_checkpoints([str(p) for p, _ in ladon_rate_points()])
    replay(bag, edge, max_frames=5)  # warm-up (first-call allocations)
    served, seconds = 0, 0.0
    while served < frames:
        report = replay(bag, edge, max_frames=frames - served)
        served += report.served
        seconds += report.seconds
    return {'frames': served, 'seconds': round(seconds, 2), 'frames_per_s': round(served / seconds, 1),
            'torch_threads': 1}


def format_rows(rows: list[dict], hz: float, size: tuple[int, int]) -> str:
    """The table ``bench-bag`` prints."""
    head = (f'| stream ({size[1]}x{size[0]} camera, {hz:g} Hz) | bytes/frame sent | bag bytes/frame | '
            'GB per robot-hour | x smaller than raw camera |\n|---|---:|---:|---:|---:|')
    body = [f'| {r["name"]} | {r["bytes_per_frame"]:,} | {r["bag_bytes_per_frame"]:,} | '
            f'{r["GB_per_robot_hour"]:,} | {r["x_smaller_than_camera"]:g} |' for r in rows]
    return '\n'.join([head, *body])
