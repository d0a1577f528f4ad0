"""The ONNX Runtime back end of the edge: an edge bundle's graphs (numpy + onnxruntime, no torch)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ladon_ros.codec.latent.tables import EntropyTables
from ladon_ros.edge.backend import HEADS, StageTimes, select, split
from ladon_ros.edge.bundle import read_edge_bundle
from ladon_ros.results import HeadOutputs


def make_session(path: str | Path, *, threads: int = 1, device: str = 'cpu'):
    """An onnxruntime session (full graph optimisation, ``threads`` intra-op threads).

    ``device`` 'cuda'/'cuda:N' asks for the CUDA execution provider (CPU as the fallback).
    """
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ['CPUExecutionProvider']
    if device.startswith('cuda'):
        index = int(device.split(':')[1]) if ':' in device else 0
        providers = [('CUDAExecutionProvider', {'device_id': index}), 'CPUExecutionProvider']
    return ort.InferenceSession(str(path), so, providers=providers)


class OnnxEdgeModel:
    """A checkpoint's edge bundle on ONNX Runtime.

    Args:
        folder: The bundle (``ladon_ros.edge.bundle``).
        threads: Intra-op threads per session (one edge core: 1).
        int8: Run the statically quantised body (``body_int8.onnx``).
        device: 'cpu' or 'cuda[:N]' (CUDA execution provider).
    """

    def __init__(self, folder: str | Path, *, threads: int = 1, int8: bool = False, device: str = 'cpu'):
        self.dir = Path(folder)
        info, self.meta = read_edge_bundle(self.dir)
        if int8 and not info.get('body_int8'):
            raise FileNotFoundError(f'{self.dir}: no int8 body exported (`ladon-ros export --edge --int8`)')
        self.engine = 'onnx-int8' if int8 else 'onnx'

        def session(key):
            return make_session(self.dir / info[key], threads=threads, device=device)
        ladon = self.meta.kind == 'ladon'
        self.tables = EntropyTables.load(self.dir / info['tables']) if ladon else None
        self._front = session('decoder' if ladon else 'stem')
        self._body = session('body_int8' if int8 else 'body')
        self._heads = {h: session(h) for h in HEADS}
        mean = np.asarray(self.meta.mean, np.float32) * 255.0
        std = np.asarray(self.meta.std, np.float32) * 255.0
        self._norm = (mean, std)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """(1, C, h, w) float32 latent -> (1, C1, H1, W1) ``layer1`` features."""
        return self._front.run(None, {'latent': np.ascontiguousarray(latent, np.float32)})[0]

    def image_input(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> normalised (1, 3, H, W) float32 (as ``codec.preprocess.to_tensor``)."""
        mean, std = self._norm
        return ((rgb.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None].copy()

    def finite(self, features: np.ndarray) -> bool:
        """Whether all values are finite."""
        return bool(np.isfinite(features).all())

    def run(self, inputs: list, wants: list[frozenset[str]], times: StageTimes) -> list[HeadOutputs]:
        """Body on the frames that want any head, each head on the frames that want it."""
        active = [i for i, w in enumerate(wants) if w & set(HEADS)]
        if not active:
            return [HeadOutputs() for _ in inputs]
        sub_wants = [wants[i] for i in active]

        def body():
            x = np.concatenate([inputs[i] for i in active])
            if self.meta.kind == 'teacher':
                x = self._front.run(None, {'image': x})[0]
            return [x, *self._body.run(None, {'layer1': x})]
        feats = times.timed('network', len(active), body)

        def on(head: str, fn):
            idx = select(sub_wants, head)
            if not idx:
                return None
            part = feats if len(idx) == len(active) else [f[idx] for f in feats]
            return times.timed(head, len(idx), fn, part)

        def detect(f):
            # The graph holds proposals and NMS of one frame (their loops are unrolled at export).
            out = []
            for j in range(f[0].shape[0]):
                boxes, labels, scores = self._heads['detection'].run(
                    None, {f'f{k}': f[k][j:j + 1] for k in range(4)})
                out.append({'boxes': boxes, 'labels': labels, 'scores': scores})
            return out

        cls = on('classification', lambda f: self._heads['classification'].run(None, {'f3': f[3]})[0])
        det = on('detection', detect)
        seg = on('segmentation', lambda f: self._heads['segmentation'].run(None, {'f3': f[3]})[0])
        out = [HeadOutputs() for _ in inputs]
        for i, o in zip(active, split(len(active), sub_wants, cls, det, seg)):
            out[i] = o
        return out
