"""The checkpoints shipped with the package (the embedded default's trained weights).

Files here are ``<model_id>_<tag>.safetensors``; ``default_checkpoint`` finds them. When a
file is absent (e.g. before training), ``random_checkpoint`` writes randomly initialised
weights to a cache folder so the pipeline still runs; callers must say so loudly.

``onnx/<checkpoint stem>/`` holds the exported camera bundle of each shipped Ladon
checkpoint (``ladon-ros export``), so the robot side runs without torch by default;
``shipped_camera_bundle`` finds them. Importing this module imports no torch (the
checkpoint reader is imported where used).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ladon_ros.config import ConfigError

if TYPE_CHECKING:
    from ladon_ros.checkpoint import CheckpointMeta

WEIGHTS_DIR = Path(__file__).resolve().parent
BUNDLES_DIR = WEIGHTS_DIR / 'onnx'
# ladon_small's robot side (the same encoder and bitstream) with a 3x wider edge-side decoder:
# at the same bytes it keeps 95-99 % of the teacher where ladon_small kept 87-96 %
# (docs/TRAINING.md, "Ablation"). ladon_small stays shipped: the paper's configuration, and
# the starting point of configs/train/small_wide.yaml.
DEFAULT_LADON = 'ladon_small_wide'
DEFAULT_TEACHER = 'teacher_small'
# The rate point a node runs when none is chosen (docs/TRAINING.md, "Which rate point to run"):
# beta 1 keeps >= 99 % of the teacher on every task (quick set; >= 96 % on world 3) and needs
# under 0.5x WebP's bytes at equal accuracy on every task (1,309 B/frame); beta 4 sends 2.6x
# fewer bytes for 0.076 less box mAP, beta 0.25 1.4x more for +0.019. A model that does not
# ship it defaults to its most accurate (lowest beta) point.
DEFAULT_RATE_POINT = 1.0
RANDOM_NOTE = 'RANDOM WEIGHTS (untrained): results are meaningless'


def shipped_checkpoints() -> list[tuple[Path, CheckpointMeta]]:
    """(path, metadata) of every readable checkpoint shipped in this folder, sorted by name."""
    from ladon_ros.checkpoint import CheckpointError, read_metadata
    out = []
    for path in sorted(WEIGHTS_DIR.glob('*.safetensors')):
        try:
            out.append((path, read_metadata(path)))
        except CheckpointError:
            continue
    return out


def ladon_rate_points(model_id: str = DEFAULT_LADON) -> list[tuple[Path, CheckpointMeta]]:
    """Shipped Ladon checkpoints of ``model_id``, sorted by rate point (fewest bits last)."""
    found = [(p, m) for p, m in shipped_checkpoints() if m.model_id == model_id and m.kind == 'ladon']
    return sorted(found, key=lambda pm: pm[1].rate_point)


def default_index(rate_points: list[float]) -> int:
    """Index of the default among ``rate_points`` (sorted ascending): ``DEFAULT_RATE_POINT``, else 0."""
    for i, beta in enumerate(rate_points):
        if math.isclose(beta, DEFAULT_RATE_POINT, rel_tol=1e-6):
            return i
    return 0


def default_checkpoint(kind: str = 'ladon', model_id: str | None = None) -> Path:
    """The shipped checkpoint for ``kind`` ('ladon' or 'teacher').

    For 'ladon' it is the shipped rate point ``DEFAULT_RATE_POINT`` (beta 1: the teacher's accuracy
    at a fraction of WebP's bytes; docs/TRAINING.md), or the most accurate one (the lowest beta) of a model
    that does not ship it. Other rate points are chosen explicitly (ROS parameter
    ``rate_point``, or a checkpoint path). Falls back to ``random_checkpoint`` when nothing is
    shipped.

    Args:
        kind: 'ladon' or 'teacher'.
        model_id: Registry name (default: ``DEFAULT_LADON`` / ``DEFAULT_TEACHER``).
    """
    if kind == 'ladon':
        model_id = model_id or DEFAULT_LADON
        points = ladon_rate_points(model_id)
        if not points:
            return random_checkpoint(model_id)
        return points[default_index([m.rate_point for _, m in points])][0]
    if kind == 'teacher':
        model_id = model_id or DEFAULT_TEACHER
        for path, meta in shipped_checkpoints():
            if meta.model_id == model_id:
                return path
        return random_checkpoint(model_id)
    raise ValueError(f"kind must be 'ladon' or 'teacher', got {kind!r}")


def resolve_ladon_checkpoint(checkpoint: str = '', model: str = '', rate_point: float = 0.0) -> Path:
    """The Ladon checkpoint a node should load (its ``checkpoint``/``model``/``rate_point`` parameters).

    Args:
        checkpoint: Explicit file ('' = a shipped one).
        model: Required model id ('' = any; the default model when picking a shipped one).
        rate_point: Shipped rate point to pick (0 = the default, ``DEFAULT_RATE_POINT``).

    Raises:
        ConfigError: The file is of another model/kind, or no shipped file has that rate point.
    """
    if checkpoint:
        from ladon_ros.checkpoint import read_metadata
        meta = read_metadata(checkpoint)
        if meta.kind != 'ladon':
            raise ConfigError(f'checkpoint: {checkpoint} is a {meta.kind} checkpoint, expected ladon')
        if model and meta.model_id != model:
            raise ConfigError(f'checkpoint: {checkpoint} is model {meta.model_id!r}, but model is {model!r}')
        if rate_point and not math.isclose(meta.rate_point, rate_point, rel_tol=1e-6):
            raise ConfigError(f'rate_point: {checkpoint} has rate point {meta.rate_point}, not {rate_point}')
        return Path(checkpoint)
    if not model and not rate_point:
        return default_checkpoint('ladon')
    model = model or DEFAULT_LADON
    points = ladon_rate_points(model)
    if rate_point:
        for path, meta in points:
            if math.isclose(meta.rate_point, rate_point, rel_tol=1e-6):
                return path
        raise ConfigError(f'rate_point: no shipped {model!r} checkpoint has rate point {rate_point}; '
                          f'shipped: {[m.rate_point for _, m in points]}')
    return default_checkpoint('ladon', model)


def shipped_camera_bundle(checkpoint: str = '', model: str = '', rate_point: float = 0.0) -> Path:
    """The shipped ONNX camera bundle of the checkpoint ``resolve_ladon_checkpoint`` picks (no torch).

    The same rule over the bundles' ``camera.json``: ``checkpoint`` '' = a shipped rate point
    of ``model`` (default ``DEFAULT_LADON``): ``rate_point``, or the default one
    (``default_index``) when 0; an explicit ``checkpoint`` must be one of the shipped files.

    Raises:
        ConfigError: No shipped bundle matches (an own checkpoint: export it with
            ``ladon-ros export`` and set ``onnx_dir``, or use the torch back end).
    """
    from ladon_ros.camera.bundle import read_bundle_info
    hint = "export it with `ladon-ros export` and set onnx_dir, or set backend 'torch'"
    if checkpoint:
        path = Path(checkpoint).resolve()
        folder = BUNDLES_DIR / path.stem
        if path.parent != WEIGHTS_DIR or not (folder / 'camera.json').is_file():
            raise ConfigError(f'checkpoint: {checkpoint} is not a shipped checkpoint with an ONNX bundle; {hint}')
        found = [(folder, read_bundle_info(folder))]
    else:
        bundles = [(f.parent, read_bundle_info(f.parent)) for f in sorted(BUNDLES_DIR.glob('*/camera.json'))]
        found = [(f, i) for f, i in bundles if i['model_id'] == (model or DEFAULT_LADON)]
    if model:
        found = [(f, i) for f, i in found if i['model_id'] == model]
    if rate_point:
        found = [(f, i) for f, i in found if math.isclose(i['rate_point'], rate_point, rel_tol=1e-6)]
    if not found:
        raise ConfigError(f'no shipped ONNX camera bundle for checkpoint={checkpoint!r} model={model!r} '
                          f'rate_point={rate_point}; {hint}')
    found.sort(key=lambda fi: fi[1]['rate_point'])
    return found[default_index([i['rate_point'] for _, i in found])][0]


def is_random(meta: CheckpointMeta) -> bool:
    """True for checkpoints made by ``random_checkpoint``."""
    return meta.notes.startswith(RANDOM_NOTE)


def random_checkpoint(model_id: str, seed: int = 0) -> Path:
    """Writes (once) randomly initialised weights of ``model_id`` to the cache and returns the path.

    The cache is ``$LADON_ROS_CACHE`` or ``~/.cache/ladon_ros``. The file name carries a
    digest of the model spec, so a changed architecture never reuses stale weights, and the
    file is written under a temporary name then renamed, so processes starting together
    never read a half-written file.
    """
    import hashlib

    import torch

    from ladon_ros.checkpoint import save_checkpoint
    from ladon_ros.models import build_model, model_spec
    cache = Path(os.environ.get('LADON_ROS_CACHE', Path.home() / '.cache' / 'ladon_ros'))
    spec_digest = hashlib.sha256(repr(model_spec(model_id)).encode()).hexdigest()[:8]
    path = cache / f'{model_id}_random{seed}_{spec_digest}.safetensors'
    if not path.is_file():
        torch.manual_seed(seed)
        tmp = path.with_name(f'.{path.stem}.{os.getpid()}.safetensors')
        save_checkpoint(build_model(model_id).eval(), tmp, rate_point=1.0, notes=RANDOM_NOTE)
        os.replace(tmp, path)
    return path
