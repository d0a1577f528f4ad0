"""``ladon-ros bench-edge``: edge throughput with frames from several robots batched together.

For each model (paper and small configuration) and batch size, ``batch`` frames are
entropy-decoded and decoded (``EdgePerception.prepare``), then run through the shared body
and the three heads in ONE forward pass (``EdgePerception.infer``). Rows: ``name``
(``<model>_<device>``), ``batch``, ``ms_per_frame`` and ``fps``.
"""
from __future__ import annotations

from pathlib import Path

from ladon_ros.bench import timing


def run_edge_bench(*, models: tuple[str, ...] = ('ladon_resnet50', 'ladon_small'), batches=(1, 4, 8),
                   iters: int = 2, threads: int | None = None, devices: tuple[str, ...] | None = None,
                   checkpoints: dict[str, str | Path] | None = None,
                   clock: str = 'wall') -> tuple[list[dict], list[str]]:
    """Measures frames/s per (model, device, batch).

    Args:
        models: Registry names (random weights unless ``checkpoints`` names a file).
        batches: Frames per forward pass.
        iters: Timed repetitions (median).
        threads: torch intra-op threads (default: torch's default, all cores).
        devices: ``('cpu',)`` plus ``'cuda'`` when available, by default.
        checkpoints: model name -> checkpoint path.
        clock: ``'wall'``, or ``'thread'`` (CPU time of the calling thread: only meaningful
            with ``threads=1`` on the CPU, where it gives frames/s per core unaffected by
            other processes).

    Returns:
        ``(rows, notes)``.
    """
    import torch

    import ladon_ros.models  # noqa: F401  (registry before synthetic: import cycle)
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.data.synthetic import SceneGenerator
    from ladon_ros.edge import EdgePerception
    from ladon_ros.weights import random_checkpoint

    if clock == 'thread' and (threads != 1 or (devices and 'cuda' in devices)):
        raise ValueError("clock='thread' measures one CPU thread: use threads=1 and CPU only")
    if threads:
        torch.set_num_threads(int(threads))
    notes = [f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {clock} clock']
    if devices is None:
        devices = ('cpu', 'cuda') if torch.cuda.is_available() and clock == 'wall' else ('cpu',)
        if not torch.cuda.is_available():
            notes.append('no CUDA device on this machine: GPU rows skipped')
    rows = []
    for name in models:
        ckpt = (checkpoints or {}).get(name) or random_checkpoint(name)
        cam = make_camera_encoder(codec='ladon', checkpoint=ckpt)
        gen = SceneGenerator(image_size=cam.input_size, seed=3)
        frames = [cam.encode(gen.sample(i).image) for i in range(max(batches))]
        for device in devices:
            # No decode deadline here: the benchmark measures, a live edge refuses late frames.
            edge = EdgePerception.from_checkpoints([ckpt], device=device, decode_timeout_ms=1e9)
            for b in batches:
                batch = frames[:b]

                def step():
                    out = edge.infer([edge.prepare(f) for f in batch])
                    if device == 'cuda':
                        torch.cuda.synchronize()
                    return out
                ms = timing.time_ms(step, iters=iters, warmup=1, clock=clock) / b
                rows.append({'name': f'{name}_{device}', 'batch': b, 'ms_per_frame': ms, 'fps': 1000.0 / ms})
    return rows, notes
