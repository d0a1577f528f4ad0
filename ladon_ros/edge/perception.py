"""Edge (base station) side: ``WireFrame`` -> validated decode -> shared body + heads.

One ``EdgePerception`` serves a whole fleet: it holds every Ladon rate point it was
given (keyed by weights hash, so a robot may switch rate points frame by frame) and an
optional teacher that serves frames sent with an image codec. Frames are validated
strictly before any decode; a rejected frame raises ``FrameRejected`` with a reason.
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ladon_ros.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint
from ladon_ros.codec import bitstream
from ladon_ros.codec.image_codecs import IMAGE_CODECS, decode_image
from ladon_ros.codec.preprocess import to_tensor
from ladon_ros.codec.wire import WireFrame
from ladon_ros.errors import FrameRejected
from ladon_ros.models.spec import latent_shape
from ladon_ros.results import FrameResults, to_frame_results
from ladon_ros.tasks import TASKS, TaskClasses

MAX_IMAGE_SIDE = 16384  # hard limit of ``max_image_side`` (pixels)
# A frame only claims its camera's size; the edge sizes its results by it. Bounding the
# claim bounds the work and the result bytes a frame can cost (a hostile 16384x16384 claim
# on a genuine 1.4 KB latent once took an edge to 5.4 GB and starved every other robot).
DEFAULT_MAX_IMAGE_SIDE = 4096  # pixels; larger claims are refused
DEFAULT_MAX_MASK_SIDE = 1920   # pixels; label maps of larger images are scaled down to fit
# Decoded latent symbols beyond this magnitude cannot come from an honest encoder (latents of
# trained and random models stay within a few hundred); garbage that decodes to them is refused.
MAX_LATENT_MAGNITUDE = 65536.0
DEFAULT_DECODE_TIMEOUT_MS = 2000.0  # per-frame limit on validation + entropy/image decode


@dataclass
class PreparedFrame:
    """A frame that passed validation and was decoded to model input.

    Attributes:
        key: Which model serves it (weights hash, or ``'teacher'``).
        tensor: Ladon: ``layer1`` features (1, C, H, W); teacher: normalised image.
        image_size: Original (height, width).
        decode_ms: Entropy/image decode + decoder time.
    """

    key: str
    tensor: torch.Tensor
    image_size: tuple[int, int]
    decode_ms: float


class EdgePerception:
    """Decodes frames from any robot and runs the three tasks."""

    def __init__(self, ladon: list[tuple[torch.nn.Module, CheckpointMeta]],
                 teacher: tuple[torch.nn.Module, CheckpointMeta] | None = None, *, device: str = 'cpu',
                 tasks: tuple[str, ...] = TASKS, top_k: int = 5, min_score: float = 0.0,
                 decode_timeout_ms: float = DEFAULT_DECODE_TIMEOUT_MS,
                 max_image_side: int = DEFAULT_MAX_IMAGE_SIDE, max_mask_side: int = DEFAULT_MAX_MASK_SIDE,
                 verify_encoding: bool = True):
        if not ladon and teacher is None:
            raise ValueError('the edge needs at least one Ladon checkpoint or a teacher')
        self.device = torch.device(device)
        self.tasks, self.top_k, self.min_score = tuple(tasks), top_k, min_score
        if not (math.isfinite(decode_timeout_ms) and decode_timeout_ms > 0):
            raise ValueError(f'decode_timeout_ms must be a positive number, got {decode_timeout_ms!r}')
        self.decode_timeout_ms = float(decode_timeout_ms)
        if not (0 < int(max_image_side) <= MAX_IMAGE_SIDE) or int(max_mask_side) <= 0:
            raise ValueError(f'max_image_side must be in 1..{MAX_IMAGE_SIDE} and max_mask_side positive, '
                             f'got {max_image_side}, {max_mask_side}')
        self.max_image_side, self.max_mask_side = int(max_image_side), int(max_mask_side)
        self.verify_encoding = bool(verify_encoding)
        self._edges: dict[str, tuple] = {}
        metas = []
        for model, meta in ladon:
            if meta.kind != 'ladon':
                raise CheckpointError(f'{meta.model_id!r} is a {meta.kind}, expected a ladon checkpoint')
            edge = model.to(self.device).eval().edge_side()
            self._edges[meta.short_hash] = (edge, meta)
            metas.append(meta)
        self._teacher = None
        if teacher is not None:
            model, meta = teacher
            if meta.kind != 'teacher':
                raise CheckpointError(f'{meta.model_id!r} is not a teacher checkpoint')
            self._teacher = (model.to(self.device).eval(), meta)
            metas.append(meta)
        first = metas[0]
        for meta in metas[1:]:
            if meta.classes != first.classes:
                raise CheckpointError(f'{meta.model_id!r} predicts other classes than {first.model_id!r}; '
                                      'one edge node publishes one label map')
        self.classes: TaskClasses = first.classes

    @classmethod
    def from_checkpoints(cls, ladon_paths: list[str | Path], teacher_path: str | Path | None = None,
                         **kwargs) -> 'EdgePerception':
        """Loads checkpoints (safetensors only) and builds the edge."""
        ladon = [load_checkpoint(p) for p in ladon_paths]
        teacher = load_checkpoint(teacher_path) if teacher_path else None
        return cls(ladon, teacher, **kwargs)

    @property
    def served_models(self) -> dict[str, CheckpointMeta]:
        """Weights hash (or 'teacher') -> metadata of every model this edge serves."""
        out = {h: m for h, (_, m) in self._edges.items()}
        if self._teacher is not None:
            out['teacher'] = self._teacher[1]
        return out

    def prepare(self, frame: WireFrame) -> PreparedFrame:
        """Validates and decodes one frame (no heads yet).

        Every message field is checked before the payload is touched; the bitstream header
        before the body is copied; the body length against the latent shape before entropy
        decoding. The decode itself cannot be pre-empted (CompressAI and OpenCV hold the
        GIL), so its work is bounded by those limits and a frame whose decode took longer
        than ``decode_timeout_ms`` is refused afterwards (``'decode_timeout'``): a late
        frame is not served.

        Raises:
            FrameRejected: With a reason such as ``'unknown_codec'``, ``'weights_mismatch'``,
                ``'bad_shape'``, ``'truncated'``, ``'crc_mismatch'``, ``'bad_field'``,
                ``'too_large'``, ``'bad_symbols'``, ``'bad_encoding'``, ``'decode_timeout'``.
        """
        h, w = _check_fields(frame)
        if not (0 < h <= self.max_image_side and 0 < w <= self.max_image_side):
            raise FrameRejected('bad_image_size', f'original image size {w}x{h} (limit {self.max_image_side} '
                                'per side: max_image_side)')
        if frame.codec not in bitstream.CODEC_IDS:
            raise FrameRejected('unknown_codec', f'codec {frame.codec!r}')
        t0 = time.perf_counter()
        header, body = bitstream.parse(frame.payload)
        if header.codec != frame.codec:
            raise FrameRejected('codec_mismatch', f'message says {frame.codec!r}, bitstream says {header.codec!r}')
        if tuple(frame.latent_shape) != header.shape:
            raise FrameRejected('bad_shape', f'message shape {tuple(frame.latent_shape)} != bitstream {header.shape}')
        if frame.codec == 'ladon':
            key, tensor = self._decode_latent(frame, header, body)
        else:
            key, tensor = self._decode_image(frame, header, body)
        decode_ms = (time.perf_counter() - t0) * 1e3
        if decode_ms > self.decode_timeout_ms:
            raise FrameRejected('decode_timeout', f'decode took {decode_ms:.0f} ms, limit {self.decode_timeout_ms:.0f} ms')
        return PreparedFrame(key, tensor, (h, w), decode_ms)

    def mask_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of the label map for an image: its size, scaled down to ``max_mask_side``."""
        h, w = image_size
        scale = min(1.0, self.max_mask_side / max(h, w))
        return max(1, round(h * scale)), max(1, round(w * scale))

    def _decode_latent(self, frame: WireFrame, header, body: bytes):
        entry = self._edges.get(frame.weights_hash)
        if entry is None:
            raise FrameRejected('weights_mismatch', f'no model with weights {frame.weights_hash!r} '
                                f'(model {frame.model_id!r}); serving {sorted(self._edges)}')
        edge, meta = entry
        if frame.model_id != meta.model_id:
            raise FrameRejected('model_mismatch', f'frame model {frame.model_id!r} != {meta.model_id!r}')
        if header.weights_hash != bitstream.hash_prefix(meta.weights_hash):
            raise FrameRejected('weights_mismatch', 'bitstream weights hash differs from the message')
        # The latent shape is fixed by the model: anything else is refused before decoding.
        want = latent_shape(edge.bottleneck.bottleneck_channels, meta.input_size)
        if header.shape != want:
            raise FrameRejected('bad_shape', f'latent {header.shape} but model {meta.model_id!r} makes {want}')
        bitstream.check_ladon_body(len(body), header.shape)
        c, lh, lw = header.shape
        # Zero padding keeps every word the C++ rANS decoder may read inside the string it
        # was given (see ``bitstream.rans_guard_padding``); a valid stream never reads it.
        padded = body + bytes(bitstream.rans_guard_padding(len(body), c * lh * lw))
        y_hat = edge.entropy_decode([[padded]], (lh, lw))
        if not bool(torch.isfinite(y_hat).all()) or float(y_hat.abs().max()) > MAX_LATENT_MAGNITUDE:
            raise FrameRejected('bad_symbols', f'latent symbols outside +-{MAX_LATENT_MAGNITUDE:g} '
                                '(garbage with a valid checksum?)')
        # rANS decodes ANY byte string to some symbols: a broken encoder (random bytes, a
        # truncated or mangled stream with a fresh CRC) would yield wrong results, not an
        # error. An honest body is exactly the encoding of the symbols it decodes to, so
        # re-encode and compare (about as costly as the decode: docs/FLEET.md).
        if self.verify_encoding and edge.bottleneck.entropy_bottleneck.compress(y_hat)[0] != bytes(body):
            raise FrameRejected('bad_encoding', 'the body is not the encoding of the symbols it decodes to '
                                '(random or mangled bytes with a valid checksum?)')
        features = edge.decode(y_hat.to(self.device))
        if not bool(torch.isfinite(features).all()):
            raise FrameRejected('bad_symbols', 'decoded features are not finite')
        return meta.short_hash, features

    def _decode_image(self, frame: WireFrame, header, body: bytes):
        if self._teacher is None:
            raise FrameRejected('no_teacher', f'{frame.codec} frames need a teacher checkpoint on the edge')
        model, meta = self._teacher
        if header.shape != (3, *meta.input_size):
            raise FrameRejected('bad_shape', f'{frame.codec} image {header.shape}, teacher expects '
                                f'{(3, *meta.input_size)}')
        rgb = decode_image(frame.codec, body, header.shape)
        return 'teacher', to_tensor(rgb, meta.mean, meta.std).to(self.device)

    @torch.no_grad()
    def infer(self, frames: list[PreparedFrame]) -> list[FrameResults]:
        """Runs body + heads, batching frames served by the same model (e.g. several robots)."""
        results: list[FrameResults | None] = [None] * len(frames)
        groups: dict[str, list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.key, []).append(i)
        for key, idx in groups.items():
            t0 = time.perf_counter()
            batch = torch.cat([frames[i].tensor for i in idx])
            if key == 'teacher':
                model, meta = self._teacher
                out = model.infer(batch, self.tasks)
            else:
                edge, meta = self._edges[key]
                out = edge.infer(batch, self.tasks)
            heads_ms = (time.perf_counter() - t0) * 1e3 / len(idx)
            for j, i in enumerate(idx):
                r = to_frame_results(out, j, classes=self.classes, input_size=meta.input_size,
                                     image_size=frames[i].image_size, mask_size=self.mask_size(frames[i].image_size),
                                     top_k=self.top_k, min_score=self.min_score)
                r.timings_ms = {'decode': frames[i].decode_ms, 'heads': heads_ms}
                results[i] = r
        return results

    def process(self, frame: WireFrame) -> FrameResults:
        """``prepare`` + ``infer`` for one frame."""
        return self.infer([self.prepare(frame)])[0]


def _check_fields(frame: WireFrame) -> tuple[int, int]:
    """Type and range checks of the message fields; returns the original (height, width).

    Raises:
        FrameRejected: ``'bad_field'`` (wrong type, NaN/Inf, negative time), ``'bad_image_size'``.
    """
    if not isinstance(frame.codec, str) or not isinstance(frame.model_id, str) \
            or not isinstance(frame.weights_hash, str):
        raise FrameRejected('bad_field', 'codec, model_id and weights_hash must be strings')
    if not isinstance(frame.payload, (bytes, bytearray, memoryview)):
        raise FrameRejected('bad_field', f'payload must be bytes, got {type(frame.payload).__name__}')
    for name in ('rate_point', 'encode_ms'):
        value = getattr(frame, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise FrameRejected('bad_field', f'{name} must be a finite number, got {value!r}')
    if frame.encode_ms < 0 or frame.rate_point < 0:
        raise FrameRejected('bad_field', f'negative rate_point/encode_ms ({frame.rate_point}, {frame.encode_ms})')
    try:
        if len(frame.latent_shape) != 3:  # before converting: the list may be huge
            raise FrameRejected('bad_shape', f'latent_shape has {len(frame.latent_shape)} dims, not (C, H, W)')
        h, w = (int(v) for v in frame.image_size)
        tuple(int(v) for v in frame.latent_shape)
    except (TypeError, ValueError, OverflowError) as err:
        if isinstance(err, FrameRejected):
            raise
        raise FrameRejected('bad_image_size', f'image_size {str(frame.image_size)[:40]} / latent_shape '
                            f'{str(frame.latent_shape)[:40]} are not integer tuples') from None
    return h, w
