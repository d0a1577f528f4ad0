"""The ONNX back end: a bundle's encoder on onnxruntime (numpy + onnxruntime only, no torch)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ladon_ros.camera.bundle import bundle_coder, read_bundle_info
from ladon_ros.camera.identity import ModelIdentity


def make_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session with full graph optimisation and ``threads`` intra-op threads."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])


class OnnxBackend:
    """Latents from an exported bundle's ``encoder.onnx`` (or ``encoder_int8.onnx``).

    Args:
        bundle_dir: Folder written by ``ladon-ros export``.
        threads: ONNX Runtime intra-op threads (a weak camera: 1).
        int8: Use ``encoder_int8.onnx`` (faster; its symbols are NOT bit-exact with the
            fp32 encoder: see docs/BENCHMARKS.md for the measured agreement).
    """

    name = 'onnx'

    def __init__(self, bundle_dir: str | Path, *, threads: int = 1, int8: bool = False):
        self.dir = Path(bundle_dir)
        info = read_bundle_info(self.dir)
        file = info['encoder_int8'] if int8 else info['encoder']
        if not file:
            raise FileNotFoundError(f'{self.dir}: no int8 encoder exported (use `ladon-ros export --int8`)')
        self.int8 = bool(int8)
        self.identity = ModelIdentity.from_bundle_info(info, source=f'ONNX {self.dir}')
        self.coder = bundle_coder(self.dir, info)
        self.session = make_session(self.dir / file, threads)

    def latent(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) float32 latent of an image already at the model's input size."""
        return self.session.run(None, {'rgb': small_rgb[None]})[0][0]
