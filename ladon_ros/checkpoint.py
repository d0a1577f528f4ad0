"""Checkpoints: safetensors weights + a JSON metadata block, loaded without pickle.

The metadata (stored in the safetensors header under ``ladon_ros``) names the model,
its rate point, class names per task, input size, normalisation and the SHA-256 of
the weights. A file whose weights do not hash to its metadata is refused.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from safetensors import SafetensorError

from ladon_ros.tasks import TaskClasses

if TYPE_CHECKING:
    import torch
    from torch import nn

# Imported where used (torch, compressai, the model registry): reading a checkpoint's
# metadata must not import torch (a torch-free edge checks its ONNX bundle against it).
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # == ladon_ros.models.spec.IMAGENET_MEAN (test_core_checkpoint)
IMAGENET_STD = (0.229, 0.224, 0.225)

FORMAT = 'ladon_ros/1'
_META_KEY = 'ladon_ros'
_CDF_BUFFERS = ('_quantized_cdf', '_offset', '_cdf_length')


class CheckpointError(ValueError):
    """A checkpoint that must not be used (unreadable, tampered, or for another model)."""


@dataclass(frozen=True)
class CheckpointMeta:
    """What travels with the weights.

    Attributes:
        model_id: Registry name of the architecture.
        kind: ``'ladon'`` or ``'teacher'``.
        rate_point: Training beta (0 for a teacher).
        classes: Class names per task.
        input_size: (height, width) the model was trained at.
        mean: Normalisation mean (RGB, 0..1 scale).
        std: Normalisation std.
        weights_hash: Hex SHA-256 over the tensors (names, dtypes, shapes, bytes).
        notes: Free text (training provenance).
    """

    model_id: str
    kind: str
    rate_point: float
    classes: TaskClasses
    input_size: tuple[int, int]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights_hash: str = ''
    notes: str = ''

    @property
    def short_hash(self) -> str:
        """First 16 hex digits of ``weights_hash`` (what a LatentFrame carries)."""
        return self.weights_hash[:16]

    def to_json(self) -> str:
        """Serialises to the JSON stored in the file header."""
        d = dataclasses.asdict(self)
        d['classes'] = self.classes.to_dict()
        d['format'] = FORMAT
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> 'CheckpointMeta':
        """Parses and validates the stored metadata."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise CheckpointError(f'metadata is not valid JSON: {err}') from None
        if not isinstance(d, dict) or d.pop('format', None) != FORMAT:
            raise CheckpointError(f'metadata is not of format {FORMAT!r}')
        try:
            d['classes'] = TaskClasses.from_dict(d['classes'])
            d['input_size'] = tuple(int(v) for v in d['input_size'])
            d['mean'] = tuple(float(v) for v in d['mean'])
            d['std'] = tuple(float(v) for v in d['std'])
            d['rate_point'] = float(d['rate_point'])
            meta = cls(**d)
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f'invalid metadata: {err}') from None
        _check_meta(meta)
        return meta


MAX_INPUT_SIDE = 8192  # pixels; larger model input sizes in metadata are refused


def _check_meta(meta: CheckpointMeta) -> None:
    """Value checks of parsed metadata (a file is untrusted input until its hash is verified)."""
    if len(meta.input_size) != 2 or not all(16 <= s <= MAX_INPUT_SIDE for s in meta.input_size):
        raise CheckpointError(f'invalid input_size {meta.input_size} (each side 16..{MAX_INPUT_SIDE})')
    if not isinstance(meta.model_id, str) or not meta.model_id:
        raise CheckpointError(f'invalid metadata: model_id {meta.model_id!r}')
    if meta.kind not in ('ladon', 'teacher'):
        raise CheckpointError(f"invalid metadata: kind {meta.kind!r} is not 'ladon' or 'teacher'")
    if not (math.isfinite(meta.rate_point) and meta.rate_point >= 0):
        raise CheckpointError(f'invalid metadata: rate_point {meta.rate_point!r} must be finite and >= 0')
    if len(meta.mean) != 3 or len(meta.std) != 3 or not all(math.isfinite(v) for v in meta.mean + meta.std) \
            or min(meta.std) <= 0:
        raise CheckpointError(f'invalid metadata: mean {meta.mean} / std {meta.std} need 3 finite values, std > 0')
    if not isinstance(meta.weights_hash, str) or len(meta.weights_hash) != 64 \
            or any(ch not in '0123456789abcdef' for ch in meta.weights_hash):
        raise CheckpointError(f'invalid metadata: weights_hash {meta.weights_hash!r} is not a hex SHA-256')
    if not isinstance(meta.notes, str):
        raise CheckpointError('invalid metadata: notes must be text')


def weights_hash(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over sorted tensor names, dtypes, shapes and raw bytes."""
    import torch
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().contiguous().cpu()
        h.update(f'{name}|{t.dtype}|{tuple(t.shape)}|'.encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b'')
    return h.hexdigest()


def save_checkpoint(model: nn.Module, path: str | Path, *, rate_point: float = 0.0, notes: str = '',
                    rebuild_tables: bool = True) -> CheckpointMeta:
    """Writes ``model`` (a registered Ladon or Teacher) as safetensors + metadata.

    For Ladon models the entropy coder tables are built (``update()``) and stored, so the
    robot and the edge decode with identical CDFs.

    Args:
        rebuild_tables: Rebuild the tables from the current quantiles (default); False keeps
            tables that are already built (converted checkpoints keep the authors' tables).

    Returns:
        The metadata written.
    """
    from safetensors.torch import save_file

    from ladon_ros.models.registry import model_kind
    spec = model.spec
    if hasattr(model, 'update'):
        model.update(force=rebuild_tables)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = CheckpointMeta(
        model_id=spec.name, kind=model_kind(spec.name), rate_point=float(rate_point), classes=spec.classes,
        input_size=tuple(spec.input_size), weights_hash=weights_hash(state), notes=notes)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={_META_KEY: meta.to_json()})
    return meta


def read_metadata(path: str | Path) -> CheckpointMeta:
    """Reads only the metadata block (cheap; does not verify the hash)."""
    from safetensors import safe_open
    path = _existing(path)
    try:
        with safe_open(str(path), framework='numpy') as f:
            raw = (f.metadata() or {}).get(_META_KEY)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f'{path} is not a safetensors file: {err}') from None
    if raw is None:
        raise CheckpointError(f'{path} has no {_META_KEY!r} metadata block')
    return CheckpointMeta.from_json(raw)


def load_checkpoint(path: str | Path, *, expect_model: str | None = None,
                    map_location: str = 'cpu') -> tuple[nn.Module, CheckpointMeta]:
    """Loads a checkpoint into a freshly built model; never unpickles anything.

    Args:
        path: ``.safetensors`` file written by ``save_checkpoint``.
        expect_model: If set, refuse a checkpoint of another model id.
        map_location: Device for the tensors.

    Returns:
        The model in eval mode (entropy tables ready) and its metadata.

    Raises:
        CheckpointError: Unreadable file, invalid metadata, hash mismatch, wrong model.
    """
    from ladon_ros.models.compressai_import import update_registered_buffers
    from safetensors.torch import load_file

    from ladon_ros.models.registry import build_model, model_kind, model_spec
    meta = read_metadata(path)
    if expect_model is not None and meta.model_id != expect_model:
        raise CheckpointError(f'checkpoint {path} is for model {meta.model_id!r}, expected {expect_model!r}')
    try:
        model_spec(meta.model_id)
    except KeyError as err:
        raise CheckpointError(str(err)) from None
    if model_kind(meta.model_id) != meta.kind:
        raise CheckpointError(f'metadata kind {meta.kind!r} does not match model {meta.model_id!r}')
    try:
        state = load_file(str(path), device=map_location)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f'cannot read tensors of {path}: {err}') from None
    actual = weights_hash(state)
    if actual != meta.weights_hash:
        raise CheckpointError(
            f'weights hash mismatch in {path}: metadata says {meta.weights_hash[:16]}, tensors hash to {actual[:16]}')
    model = build_model(meta.model_id, classes=meta.classes, input_size=meta.input_size)
    if meta.kind == 'ladon':
        # The CDF tables have data-dependent sizes: resize the buffers before loading.
        update_registered_buffers(model.bottleneck.entropy_bottleneck, 'bottleneck.entropy_bottleneck',
                                  list(_CDF_BUFFERS), state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f'weights of {path} do not fit model {meta.model_id!r}: {err}') from None
    model.eval()
    if meta.kind == 'ladon':
        model.update()  # keeps the stored tables (no force); builds them only if absent.
    return model.to(map_location), meta


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f'checkpoint not found: {p}')
    if p.suffix != '.safetensors':
        raise CheckpointError(f'{p}: only .safetensors checkpoints are accepted (no pickle files)')
    return p
