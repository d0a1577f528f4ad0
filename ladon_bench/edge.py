"""``ladon-ros bench-edge``: edge cost per frame, stage by stage, with frames of several robots batched.

For each model, engine (torch, ONNX Runtime fp32, ONNX Runtime int8 body), head set (one,
two, three heads subscribed) and batch size, ``batch`` frames are validated and decoded
(``EdgePerception.prepare``: bitstream, rANS decode + re-encode check, decoder), run through
the body and the wanted heads as ONE batch (``EdgePerception.infer``), and their results
converted to the ROS messages the edge publishes and serialised (``publish``; needs the
generated ``ladon_ros.msg``, else 0 and a note). Columns are milliseconds per frame:
``decode``, ``network`` (body), one per head (per frame that ran it), ``publish``, and
``ms_per_frame`` (everything) / ``fps``.

With ``clock='thread'`` and one thread every column is the CPU time of the one thread that
does all the work, so the figures are per edge core and robust on a shared machine.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

ENGINES = ('torch', 'onnx', 'onnx-int8')
HEAD_SETS = {1: ('classification',), 2: ('classification', 'segmentation'),
             3: ('classification', 'detection', 'segmentation')}
STAGES = ('decode', 'network', 'classification', 'detection', 'segmentation', 'publish')


def _publisher():
    """``publish(results, wants)``: the messages the edge publishes, built and serialised (the ROS
    layer's ``serialize_compact_results``); None where ROS is not importable."""
    try:
        from ladon_ros.ros.conversions import serialize_compact_results
    except ImportError:
        return None
    return serialize_compact_results


def _ort_cuda() -> bool:
    import onnxruntime as ort
    return 'CUDAExecutionProvider' in ort.get_available_providers()


def _clock(name: str):
    return time.thread_time if name == 'thread' else time.perf_counter


def run_edge_bench(*, models: tuple[str, ...] = ('ladon_small',), batches=(1, 8), engines=ENGINES,
                   heads=(1, 2, 3), iters: int = 3, threads: int | None = None,
                   devices: tuple[str, ...] | None = None, checkpoints: dict[str, str | Path] | None = None,
                   clock: str = 'wall', proposals: int | None = None) -> tuple[list[dict], list[str]]:
    """Measures milliseconds per frame and stage per (model, engine, device, heads, batch).

    Args:
        models: Registry names (the shipped checkpoint when there is one, else random weights,
            unless ``checkpoints`` names a file).
        batches: Frames per forward pass.
        engines: Of ``ENGINES``.
        heads: Head sets (``HEAD_SETS``: 1 = classification, 2 = + segmentation, 3 = all).
        iters: Timed repetitions (median per stage).
        threads: torch intra-op threads and ONNX Runtime intra-op threads (default: torch's
            default, ONNX Runtime 1).
        devices: ``('cpu',)`` plus ``'cuda'`` when available, by default.
        checkpoints: model name -> checkpoint path.
        clock: ``'wall'``, or ``'thread'`` (CPU time of the calling thread: only meaningful
            with ``threads=1`` on the CPU, where it gives milliseconds per edge core
            unaffected by other processes).
        proposals: RPN proposals per image at test time (default: the spec's ``rpn_post_nms_test``;
            another value is exported into a bundle for this run and set on the torch model).

    Returns:
        ``(rows, notes)``.
    """
    import torch

    import ladon_ros.models  # noqa: F401  (registry before synthetic: import cycle)
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.world import SceneGenerator
    from ladon_ros.edge import EdgePerception
    from ladon_ros.edge.bundle import edge_bundle_for
    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.weights import default_checkpoint

    if clock == 'thread' and (threads != 1 or (devices and 'cuda' in devices)):
        raise ValueError("clock='thread' measures one CPU thread: use threads=1 and CPU only")
    for e in engines:
        if e not in ENGINES:
            raise ValueError(f'engine must be one of {ENGINES}, got {e!r}')
    if threads:
        torch.set_num_threads(int(threads))
    notes = [f'torch {torch.__version__}, {torch.get_num_threads()} torch threads, ONNX Runtime {threads or 1} '
             f'intra-op thread(s), {clock} clock; ms per frame, median of {iters}']
    if devices is None:
        devices = ('cpu', 'cuda') if torch.cuda.is_available() and clock == 'wall' else ('cpu',)
        if not torch.cuda.is_available():
            notes.append('no CUDA device on this machine: GPU rows skipped')
    publish = _publisher()
    if publish is None:
        notes.append('ladon_ros.msg/rclpy not importable: publish column is 0 (source scripts/env.sh)')
    tick = _clock(clock)
    rows = []
    with tempfile.TemporaryDirectory(prefix='bench_edge_') as tmp:
        for name in models:
            ckpt = (checkpoints or {}).get(name) or default_checkpoint('ladon', name)
            bundles = None
            shipped = edge_bundle_for(ckpt, read_metadata(ckpt)) is not None
            if any(e != 'torch' for e in engines) and (not shipped or proposals is not None):
                from ladon_ros.export.edge_bundle import export_edge_bundle
                bundles = Path(tmp)
                export_edge_bundle(ckpt, bundles / Path(ckpt).stem, int8='onnx-int8' in engines, proposals=proposals)
                notes.append(f'{name}: exported an edge bundle for this run'
                             + (f' ({proposals} proposals)' if proposals is not None else ' (none shipped)'))
            cam = make_camera_encoder(codec='ladon', checkpoint=ckpt)
            gen = SceneGenerator(image_size=cam.input_size, seed=3)
            frames = [cam.encode(gen.sample(i).image) for i in range(max(batches))]
            for device in devices:
                for engine in engines:
                    if device != 'cpu' and engine != 'torch' and not _ort_cuda():
                        notes.append(f'{engine} on {device}: onnxruntime has no CUDA execution provider here')
                        continue
                    # No decode deadline here: the benchmark measures, a live edge refuses late frames.
                    edge = EdgePerception.from_checkpoints(
                        [ckpt], backend='torch' if engine == 'torch' else 'onnx', int8=engine == 'onnx-int8',
                        device=device, threads=threads or 1, bundles=bundles, decode_timeout_ms=1e9, clock=tick,
                        warn=notes.append)
                    if proposals is not None and engine == 'torch':
                        rpn = next(iter(edge.models.values())).tail.heads.detection.rpn
                        rpn._pre_nms_top_n['testing'] = rpn._post_nms_top_n['testing'] = int(proposals)
                    for n_heads in heads:
                        wants = HEAD_SETS[n_heads]
                        for b in batches:
                            rows.append(_measure(edge, frames[:b], wants, publish, tick, iters, device) | {
                                'name': f'{name}_{engine}_{device}', 'engine': engine, 'heads': n_heads,
                                'batch': b})
    return rows, notes


def _measure(edge, frames, wants, publish, tick, iters: int, device: str) -> dict:
    """Median per stage over ``iters`` runs (after one warm-up) of prepare + infer + publish."""
    import torch
    runs = []
    for i in range(iters + 1):
        stage = dict.fromkeys(STAGES, 0.0)
        t0 = tick()
        prepared = [edge.prepare(f) for f in frames]
        results = edge.infer(prepared, [wants] * len(frames))
        if device == 'cuda':
            torch.cuda.synchronize()
        t1 = tick()
        for r in results:
            for s in ('decode', 'network', *wants):
                stage[s] += r.timings_ms.get(s, 0.0) / len(frames)
        if publish is not None:
            for r in results:
                publish(r, wants)
        t2 = tick()
        stage['publish'] = (t2 - t1) * 1e3 / len(frames)
        stage['total'] = (t2 - t0) * 1e3 / len(frames)
        if i:
            runs.append(stage)
    row = {f'{s}_ms': statistics.median(r[s] for r in runs) for s in STAGES}
    row['ms_per_frame'] = statistics.median(r['total'] for r in runs)
    row['fps'] = 1000.0 / row['ms_per_frame']
    return row


COLUMNS = ['name', 'heads', 'batch', *(f'{s}_ms' for s in STAGES), 'ms_per_frame', 'fps']
