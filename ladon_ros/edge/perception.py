"""``EdgePerception``: ``WireFrame`` -> validated decode -> shared body + the wanted heads.

One ``EdgePerception`` serves a whole fleet: it holds every Ladon rate point it was given
(keyed by weights hash, so a robot may switch rate points frame by frame) and an optional
teacher that serves frames sent with an image codec. A frame's walk, top-down:

1. ``validation.check_fields`` and the size limits (``EdgeLimits``);
2. ``codec.bitstream.parse`` (header, length, CRC), header vs message;
3. the codec family's decoder (``decoders``): Ladon -> ``codec.latent.decode`` + the model's
   decoder; images -> the teacher's input;
4. ``infer``: per model, one batch through the body and each head on the frames that want it
   (``EdgeModel.run``: torch or ONNX Runtime back end), then ``results.to_frame_results``.

A rejected frame raises ``FrameRejected`` with a reason, before any work it could make costly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ladon_ros.checkpoint import CheckpointError, CheckpointMeta
from ladon_ros.codec import bitstream
from ladon_ros.codec.wire import WireFrame
from ladon_ros.edge.backend import HEADS, EdgeModel, StageTimes
from ladon_ros.edge.decoders import FrameDecoder, ImageFrameDecoder, LatentFrameDecoder
from ladon_ros.edge.validation import DEFAULT_DECODE_TIMEOUT_MS, DEFAULT_MAX_IMAGE_SIDE, DEFAULT_MAX_MASK_SIDE, \
    EdgeLimits, check_fields
from ladon_ros.errors import FrameRejected
from ladon_ros.results import FrameResults, to_frame_results
from ladon_ros.tasks import TASKS, TaskClasses


@dataclass
class PreparedFrame:
    """A frame that passed validation and was decoded to model input.

    Attributes:
        key: Which model serves it (weights hash, or ``'teacher'``).
        tensor: The model's input for this frame (the back end's type): Ladon: ``layer1``
            features (1, C, H, W); teacher: the normalised image.
        image_size: Original (height, width).
        decode_ms: Validation + entropy/image decode + decoder time.
    """

    key: str
    tensor: Any
    image_size: tuple[int, int]
    decode_ms: float


def _as_model(item, device: str) -> EdgeModel:
    """An ``EdgeModel`` as is, or a loaded torch ``(model, meta)`` pair on the torch back end."""
    if isinstance(item, tuple):
        from ladon_ros.edge.torch_backend import TorchEdgeModel
        model, meta = item
        return TorchEdgeModel(model, meta, device)
    return item


class EdgePerception:
    """Decodes frames from any robot and runs the wanted tasks.

    Args:
        ladon: Ladon rate points: ``EdgeModel``s or loaded torch ``(model, meta)`` pairs.
        teacher: The teacher (same forms), or None (image-codec frames are refused).
        device: Torch device for ``(model, meta)`` pairs.
        tasks: The heads run for a frame when ``infer`` is not told otherwise.
        top_k, min_score: Classification hypotheses kept; detections below are dropped.
        decode_timeout_ms, max_image_side, max_mask_side: ``EdgeLimits``.
        verify_encoding: The re-encode check of Ladon bodies.
        clock: Seconds for the stage timings (``time.perf_counter``; a benchmark: ``time.thread_time``).
    """

    def __init__(self, ladon: list, teacher=None, *, device: str = 'cpu', tasks: tuple[str, ...] = TASKS,
                 top_k: int = 5, min_score: float = 0.0, decode_timeout_ms: float = DEFAULT_DECODE_TIMEOUT_MS,
                 max_image_side: int = DEFAULT_MAX_IMAGE_SIDE, max_mask_side: int = DEFAULT_MAX_MASK_SIDE,
                 verify_encoding: bool = True, clock=None):
        if not ladon and teacher is None:
            raise ValueError('the edge needs at least one Ladon checkpoint or a teacher')
        for t in tasks:
            if t not in TASKS:
                raise ValueError(f'unknown task {t!r}')
        self.tasks, self.top_k, self.min_score = tuple(tasks), top_k, min_score
        self.limits = EdgeLimits(float(decode_timeout_ms), int(max_image_side), int(max_mask_side))
        self.clock = clock or time.perf_counter
        models: dict[str, EdgeModel] = {}
        for item in ladon:
            model = _as_model(item, device)
            if model.meta.kind != 'ladon':
                raise CheckpointError(f'{model.meta.model_id!r} is a {model.meta.kind}, expected a ladon checkpoint')
            models[model.meta.short_hash] = model
        teacher_model = None
        if teacher is not None:
            teacher_model = _as_model(teacher, device)
            if teacher_model.meta.kind != 'teacher':
                raise CheckpointError(f'{teacher_model.meta.model_id!r} is not a teacher checkpoint')
        self._latent = LatentFrameDecoder(models, verify_encoding=verify_encoding)
        self._image = ImageFrameDecoder(teacher_model)
        self.models: dict[str, EdgeModel] = dict(models)
        if teacher_model is not None:
            self.models[ImageFrameDecoder.KEY] = teacher_model
        metas = list(self.served_models.values())
        for meta in metas[1:]:
            if meta.classes != metas[0].classes:
                raise CheckpointError(f'{meta.model_id!r} predicts other classes than {metas[0].model_id!r}; '
                                      'one edge node publishes one label map')
        self.classes: TaskClasses = metas[0].classes

    @classmethod
    def from_checkpoints(cls, ladon_paths: list[str | Path], teacher_path: str | Path | None = None, *,
                         backend: str = 'torch', device: str = 'cpu', threads: int = 1, int8: bool = False,
                         bundles: Path | None = None, warn=None, **kwargs) -> 'EdgePerception':
        """Loads checkpoints (safetensors only) on ``backend`` (``ladon_ros.edge.factory``) and builds the edge."""
        from ladon_ros.edge.factory import load_edge_model

        def load(path):
            return load_edge_model(path, backend=backend, device=device, threads=threads, int8=int8,
                                   bundles=bundles, warn=warn)
        return cls([load(p) for p in ladon_paths], load(teacher_path) if teacher_path else None,
                   device=device, **kwargs)

    # -- limits and settings (attributes of the past, kept for callers) ------------------
    @property
    def served_models(self) -> dict[str, CheckpointMeta]:
        """Weights hash (or 'teacher') -> metadata of every model this edge serves."""
        return {key: m.meta for key, m in self.models.items()}

    @property
    def engines(self) -> dict[str, str]:
        """Weights hash (or 'teacher') -> the engine that runs it (``'torch'``, ``'onnx'``, ``'onnx-int8'``)."""
        return {key: m.engine for key, m in self.models.items()}

    @property
    def verify_encoding(self) -> bool:
        """Whether Ladon bodies get the re-encode check."""
        return self._latent.verify_encoding

    @verify_encoding.setter
    def verify_encoding(self, value: bool) -> None:
        self._latent.verify_encoding = bool(value)

    @property
    def max_image_side(self) -> int:
        """Frames claiming a larger image side are refused."""
        return self.limits.max_image_side

    @property
    def max_mask_side(self) -> int:
        """Label maps of larger images are scaled down to this side."""
        return self.limits.max_mask_side

    @property
    def decode_timeout_ms(self) -> float:
        """A frame whose validation + decode took longer is refused."""
        return self.limits.decode_timeout_ms

    def mask_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of the label map for an image (``EdgeLimits.mask_size``)."""
        return self.limits.mask_size(image_size)

    # -- the frame's walk ----------------------------------------------------------------
    def _decoder(self, codec: str) -> FrameDecoder:
        return self._latent if codec == 'ladon' else self._image

    def prepare(self, frame: WireFrame) -> PreparedFrame:
        """Validates and decodes one frame (no heads yet).

        Every message field is checked before the payload is touched; the bitstream header
        before the body is copied; the body length against the latent shape before entropy
        decoding. The decode itself cannot be pre-empted (the rANS coder and OpenCV hold the
        GIL), so its work is bounded by those limits and a frame whose decode took longer
        than ``decode_timeout_ms`` is refused afterwards (``'decode_timeout'``): a late
        frame is not served.

        Raises:
            FrameRejected: With a reason such as ``'unknown_codec'``, ``'weights_mismatch'``,
                ``'bad_shape'``, ``'truncated'``, ``'crc_mismatch'``, ``'bad_field'``,
                ``'too_large'``, ``'bad_symbols'``, ``'bad_encoding'``, ``'decode_timeout'``.
        """
        h, w = check_fields(frame)
        self.limits.check_image_size(h, w)
        if frame.codec not in bitstream.CODEC_IDS:
            raise FrameRejected('unknown_codec', f'codec {frame.codec!r}')
        t0 = self.clock()
        header, body = bitstream.parse(frame.payload)
        if header.codec != frame.codec:
            raise FrameRejected('codec_mismatch', f'message says {frame.codec!r}, bitstream says {header.codec!r}')
        if tuple(frame.latent_shape) != header.shape:
            raise FrameRejected('bad_shape', f'message shape {tuple(frame.latent_shape)} != bitstream {header.shape}')
        key, features = self._decoder(frame.codec).decode(frame, header, body)
        decode_ms = (self.clock() - t0) * 1e3
        if decode_ms > self.limits.decode_timeout_ms:
            raise FrameRejected('decode_timeout', f'decode took {decode_ms:.0f} ms, limit '
                                f'{self.limits.decode_timeout_ms:.0f} ms')
        return PreparedFrame(key, features, (h, w), decode_ms)

    def infer(self, frames: list[PreparedFrame], wants: list[tuple[str, ...]] | None = None) -> list[FrameResults]:
        """Runs body + heads, batching frames served by the same model (e.g. several robots).

        Args:
            frames: Prepared frames.
            wants: Per frame, the tasks to run (default: ``tasks`` for every frame). A task
                not wanted is not run: its result is empty (no hypotheses, no boxes, background).

        Returns:
            One ``FrameResults`` per frame; ``timings_ms`` holds ``decode``, ``heads`` (its
            share of the body plus the heads it ran) and each stage (``network``, one per head).
        """
        wants = [frozenset(self.tasks)] * len(frames) if wants is None else [frozenset(w) for w in wants]
        if len(wants) != len(frames):
            raise ValueError(f'{len(wants)} task sets for {len(frames)} frames')
        results: list[FrameResults | None] = [None] * len(frames)
        groups: dict[str, list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.key, []).append(i)
        for key, idx in groups.items():
            model = self.models[key]
            times = StageTimes(self.clock)
            outs = model.run([frames[i].tensor for i in idx], [wants[i] for i in idx], times)
            for i, out in zip(idx, outs):
                r = to_frame_results(out, 0, classes=self.classes, input_size=model.meta.input_size,
                                     image_size=frames[i].image_size, mask_size=self.mask_size(frames[i].image_size),
                                     top_k=self.top_k, min_score=self.min_score)
                ran = [h for h in HEADS if h in wants[i]]
                stages = {s: times.per_frame(s) for s in (['network'] if ran else []) + ran}
                r.timings_ms = {'decode': float(frames[i].decode_ms), 'heads': float(sum(stages.values())), **stages}
                results[i] = r
        return results

    def process(self, frame: WireFrame) -> FrameResults:
        """``prepare`` + ``infer`` for one frame."""
        return self.infer([self.prepare(frame)])[0]
