"""``ladon-ros bench-encoder``: what the camera pays per 416x416 frame on one CPU thread.

Rows (``name``, ``ms_per_frame``): ``torch_encoder``, ``ort_encoder_fp32``, ``ort_encoder_int8``,
``entropy_coding`` (canonical rounding + rANS), ``jpeg_q90``, ``resnet50_local`` (a full
ResNet-50 forward: what a robot runs without split computing) and ``camera_total`` (what the
camera node runs per frame: ONNX fp32 encoder + entropy coding + message packing). The run
also reports ``camera_total / resnet50_local`` against the 0.06 target.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ladon_bench import timing

TARGET_RATIO = 0.06
TARGET_MS = 25.0


def _scene(input_size: tuple[int, int], seed: int = 7) -> np.ndarray:
    import ladon_ros.models  # noqa: F401  (registry before synthetic: import cycle)
    from ladon_ros.world import SceneGenerator
    return SceneGenerator(image_size=input_size, seed=seed).sample(0).image


def run_encoder_bench(*, checkpoint: str | Path, iters: int = 20, int8: bool = True,
                      include_resnet50: bool = True, work_dir: str | Path | None = None,
                      clock: str = 'thread') -> tuple[list[dict], dict]:
    """Measures every row in one process, one thread.

    Args:
        checkpoint: A Ladon checkpoint (its input size is the frame size).
        iters: Timed repetitions per row (median reported).
        int8: Also build and time the int8 encoder (and measure its symbol agreement).
        include_resnet50: Time the local ResNet-50 forward (slow: ~0.5 s per call here).
        work_dir: Where to export the ONNX bundle (a temporary folder by default).
        clock: ``'thread'`` (CPU time of this thread; everything runs on it) or ``'wall'``.

    Returns:
        ``(rows, summary)``; summary holds the ratio, target verdicts and the int8 accuracy.
    """
    import cv2
    import onnxruntime as ort
    import torch

    from ladon_ros.camera import LadonCameraEncoder
    from ladon_ros.camera.onnx_backend import make_session
    from ladon_ros.checkpoint import load_checkpoint
    from ladon_ros.codec.latent.quantize import QuantizeStats, quantize
    from ladon_ros.codec.latent.rans import encode_symbols
    from ladon_ros.codec.preprocess import to_tensor
    from ladon_ros.export.bundle import export_camera_bundle

    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    def time_ms(fn, *, iters, warmup=2):
        return timing.time_ms(fn, iters=iters, warmup=warmup, clock=clock)
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix='ladon_bench_')
        work_dir = tmp.name
    bundle = Path(work_dir) / 'bundle'
    export_camera_bundle(checkpoint, bundle, int8=int8)
    model, meta = load_checkpoint(checkpoint)
    torch_cam = LadonCameraEncoder.from_model(model, meta)
    cam = LadonCameraEncoder.from_bundle(bundle, threads=1)
    tables, weights = cam.coder.tables, cam.coder.weights
    rgb = _scene(meta.input_size)
    x = to_tensor(rgb, meta.mean, meta.std)
    rows, summary = [], {'model': meta.model_id, 'input_size': list(meta.input_size),
                         'threads': 1, 'clock': clock, 'onnxruntime': ort.__version__, 'torch': torch.__version__}

    def add(name, ms, **extra):
        rows.append({'name': name, 'ms_per_frame': float(ms), **extra})

    enc = model.bottleneck.encoder.eval()
    with torch.no_grad():
        add('torch_encoder', time_ms(lambda: enc(x), iters=iters))
    add('ort_encoder_fp32', time_ms(lambda: cam.latent(rgb), iters=iters))
    y = cam.latent(rgb)
    sym_fp32 = quantize(y, rgb, tables.medians, weights)
    if int8:
        s8 = make_session(bundle / 'encoder_int8.onnx', threads=1)
        add('ort_encoder_int8', time_ms(lambda: s8.run(None, {'rgb': rgb[None]}), iters=iters))
        agree, ratio = [], []
        for i in range(8):  # accuracy on several scenes, not just the timed one
            img = _scene(meta.input_size, seed=100 + i)
            a = quantize(cam.latent(img), img, tables.medians, weights)
            y8 = s8.run(None, {'rgb': img[None]})[0][0]
            b = quantize(y8, img, tables.medians, weights)
            agree.append(float((a == b).mean()))
            ratio.append(len(encode_symbols(b, tables)) / max(1, len(encode_symbols(a, tables))))
        summary['int8_symbol_agreement'] = float(np.mean(agree))
        summary['int8_bytes_ratio'] = float(np.mean(ratio))
        rows[-1]['symbol_agreement'] = summary['int8_symbol_agreement']
    stats = QuantizeStats()
    add('entropy_coding', time_ms(lambda: encode_symbols(quantize(y, rgb, tables.medians, weights, stats),
                                                          tables), iters=iters))
    summary['guard_band_values_per_frame'] = stats.checked
    summary['quantize_ms'] = time_ms(lambda: quantize(y, rgb, tables.medians, weights), iters=iters)
    summary['rans_ms'] = time_ms(lambda: encode_symbols(sym_fp32, tables), iters=iters)
    summary['latent_bytes'] = len(encode_symbols(sym_fp32, tables))
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    add('jpeg_q90', time_ms(lambda: cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90]), iters=iters))
    add('camera_total', time_ms(lambda: cam.encode(rgb), iters=iters))
    if int8:
        cam8 = LadonCameraEncoder.from_bundle(bundle, threads=1, int8=True)
        summary['camera_total_int8_ms'] = time_ms(lambda: cam8.encode(rgb), iters=iters)
    summary['torch_camera_total_ms'] = time_ms(lambda: torch_cam.encode(rgb), iters=max(3, iters // 4))
    summary['bytes_equal_torch_onnx'] = torch_cam.encode(rgb).payload == cam.encode(rgb).payload
    if include_resnet50:
        from torchvision.models import resnet50
        net = resnet50(weights=None).eval()  # architecture only, nothing downloaded
        with torch.no_grad():
            add('resnet50_local', time_ms(lambda: net(x), iters=max(3, iters // 4), warmup=1))
    by = {r['name']: r['ms_per_frame'] for r in rows}
    enc_entropy = by['ort_encoder_fp32'] + by['entropy_coding']
    summary['encoder_plus_entropy_ms'] = enc_entropy
    summary['meets_25ms_target'] = enc_entropy <= TARGET_MS
    if 'resnet50_local' in by:
        summary['camera_total_over_resnet50'] = by['camera_total'] / by['resnet50_local']
        summary['meets_ratio_target'] = summary['camera_total_over_resnet50'] <= TARGET_RATIO
        if int8:
            summary['camera_total_int8_over_resnet50'] = summary['camera_total_int8_ms'] / by['resnet50_local']
    if tmp is not None:
        tmp.cleanup()
    return rows, summary
