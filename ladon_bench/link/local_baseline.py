"""The no-offload baseline: the full (teacher) model on one robot CPU core, no link.

A camera ticks at ``fps``; one worker on one core always takes the newest frame
(keep-latest, as the ROS pipeline does) and runs resize + normalise + body + three
heads. Latency = result time - capture tick; frames that were never picked are dropped.

``python -m ladon_bench.link.local_baseline --frames 50 --fps 10 --out row.json``
(the harness runs it in the camera namespace, pinned to one core with ``taskset``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def run(*, frames: int, fps: float, width: int, height: int, checkpoint: str = '', seed: int = 0) -> dict:
    """Runs the baseline for ``frames`` camera ticks; returns per-frame records and totals."""
    import torch
    torch.set_num_threads(1)  # one robot core
    from ladon_ros.camera import ImageCameraEncoder
    from ladon_ros.checkpoint import load_checkpoint
    from ladon_ros.world import SceneGenerator
    from ladon_ros.edge import EdgePerception
    from ladon_ros.weights import default_checkpoint, is_random
    path = checkpoint or str(default_checkpoint('teacher'))
    model, meta = load_checkpoint(path)
    pipeline = EdgePerception([], (model, meta))
    raw = ImageCameraEncoder('raw', 0, meta.input_size)  # resize only: what the model needs
    gen = SceneGenerator(image_size=(height, width), seed=seed)
    images = [gen.sample(i).image for i in range(8)]
    pipeline.process(raw.encode(images[0]))  # warm-up (allocations), not timed
    period = 1.0 / fps
    t0 = time.monotonic() + 0.05
    done_ticks: set[int] = set()
    records = []
    while True:
        now = time.monotonic()
        tick = int((now - t0) // period)
        if tick >= frames:
            break
        if tick < 0 or tick in done_ticks:
            time.sleep(max(0.0, t0 + (tick + 1) * period - now))
            continue
        capture = t0 + tick * period
        pipeline.process(raw.encode(images[tick % len(images)]))
        end = time.monotonic()
        done_ticks.add(tick)
        records.append({'tick': tick, 'latency_ms': (end - capture) * 1e3, 'compute_ms': (end - now) * 1e3,
                        't': end - t0})
    return {'model_id': meta.model_id, 'random_weights': is_random(meta), 'frames': frames, 'fps': fps,
            'duration_s': frames * period, 'records': records}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--frames', type=int, default=50)
    p.add_argument('--fps', type=float, default=10.0)
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--checkpoint', default='')
    p.add_argument('--out', required=True)
    a = p.parse_args(argv)
    out = run(frames=a.frames, fps=a.fps, width=a.width, height=a.height, checkpoint=a.checkpoint)
    with open(a.out, 'w') as f:
        json.dump(out, f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
