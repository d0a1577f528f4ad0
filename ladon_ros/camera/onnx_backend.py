"""``OnnxCameraEncoder``: the camera side on onnxruntime + numpy + opencv + rANS, no torch.

Same contract as ``ladon_ros.camera.LadonCameraEncoder``: ``encode(rgb) -> WireFrame``, and
the same bytes for the same image (the latent is rounded by ``canonical.quantize`` in both).
Smallest dependency set: numpy, opencv-python-headless, onnxruntime and compressai's
compiled ``ans`` extension (the compressai wheel; torch is never imported).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ladon_ros.camera import check_camera_image
from ladon_ros.codec import bitstream
from ladon_ros.codec.preprocess import resize_rgb
from ladon_ros.codec.wire import WireFrame
from ladon_ros.export.bundle import read_bundle_info
from ladon_ros.export.canonical import EncoderWeights, QuantizeStats, quantize
from ladon_ros.export.rans import encode_symbols
from ladon_ros.export.tables import EntropyTables


def make_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session with full graph optimisation and ``threads`` intra-op threads."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])


class OnnxCameraEncoder:
    """Encoder (ONNX Runtime) + canonical rounding + rANS coding of an exported bundle.

    Args:
        bundle_dir: Folder written by ``ladon-ros export``.
        threads: ONNX Runtime intra-op threads (a weak camera: 1).
        int8: Use ``encoder_int8.onnx`` (faster; its symbols are NOT bit-exact with the
            fp32 encoder: see docs/BENCHMARKS.md for the measured agreement).
    """

    codec = 'ladon'

    def __init__(self, bundle_dir: str | Path, *, threads: int = 1, int8: bool = False):
        self.dir = Path(bundle_dir)
        self.info = read_bundle_info(self.dir)
        name = self.info['encoder_int8'] if int8 else self.info['encoder']
        if not name:
            raise FileNotFoundError(f'{self.dir}: no int8 encoder exported (use `ladon-ros export --int8`)')
        self.int8 = bool(int8)
        self.session = make_session(self.dir / name, threads)
        self.tables = EntropyTables.load(self.dir / self.info['tables'])
        self.weights = EncoderWeights.load(self.dir / self.info['encoder_weights'])
        self.latent_shape = self.info['latent_shape']
        if self.tables.channels != self.latent_shape[0]:
            raise ValueError(f'{self.dir}: tables for {self.tables.channels} channels, latent {self.latent_shape}')
        self.model_id = self.info['model_id']
        self.weights_hash = self.info['weights_hash']
        self.rate_point = float(self.info['rate_point'])
        self.stats = QuantizeStats()

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the image is resized to."""
        return self.info['input_size']

    def latent(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) float32 latent of an image already at ``input_size``."""
        return self.session.run(None, {'rgb': small_rgb[None]})[0][0]

    def symbols(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) int32 symbols of an image already at ``input_size``."""
        return quantize(self.latent(small_rgb), small_rgb, self.tables.medians, self.weights, self.stats)

    def encode(self, rgb: np.ndarray) -> WireFrame:
        """Encodes one (H, W, 3) uint8 RGB camera image."""
        check_camera_image(rgb)
        t0 = time.perf_counter()
        small = resize_rgb(rgb, self.input_size)
        body = encode_symbols(self.symbols(small), self.tables)
        payload = bitstream.pack('ladon', self.latent_shape, body, self.weights_hash)
        return WireFrame('ladon', payload, rgb.shape[:2], self.latent_shape, self.model_id,
                         self.weights_hash[:16], self.rate_point, (time.perf_counter() - t0) * 1e3)
