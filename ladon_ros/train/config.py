"""Training configuration: plain YAML -> ``yaml.safe_load`` -> validated frozen dataclasses."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class StageConfig:
    """One training stage.

    Attributes:
        steps: Optimiser steps (each on ``batch_size`` fresh generated scenes).
        lr: Peak learning rate (Adam/AdamW; linear warm-up, then cosine decay).
        warmup_steps: Steps of linear warm-up.
        weight_decay: AdamW weight decay.
        time_limit_min: Optional wall-time cap (minutes); the stage ends early and says so.
        batch_size: Scenes per step for this stage (default: the run's ``batch_size``).
        aux_lr: Stage 1 only: constant learning rate of the separate Adam that fits the
            entropy model's quantiles to the auxiliary loss (CompressAI's aux optimiser).
            Unset, the quantiles share the main optimiser, its schedule and its gradient clip.
    """

    steps: int
    lr: float
    warmup_steps: int = 0
    weight_decay: float = 0.0
    time_limit_min: float | None = None
    batch_size: int | None = None
    aux_lr: float | None = None


@dataclass(frozen=True)
class TrainConfig:
    """A full training run: teacher, then one Ladon per rate point (beta).

    Attributes:
        teacher_model: Registry name of the teacher (``teacher_small``).
        ladon_model: Registry name of the student (``ladon_small``).
        betas: Rate points; each trains its own bottleneck (bits weight in stage 1).
        run_dir: Where resumable stage states and the loss log go.
        weights_dir: Where the final checkpoints go (``<model>_b<beta>.safetensors``).
        batch_size: Scenes per step.
        train_seed: Seed of the training world (evaluation uses other seeds).
        seed: Torch seed (initialisation).
        device: ``auto`` (CUDA if available), ``cpu`` or ``cuda``.
        threads: Torch CPU threads (0 = torch's default).
        save_every: Steps between resumable saves.
        log_every: Steps between loss-log lines.
        half_weights: Store shipped checkpoints in fp16 (entropy model kept fp32).
        kd_alpha: Stage 2 weight of the KD term (paper: 0.5).
        kd_temperature: Stage 2 KD temperature (paper: 1).
        teacher: Teacher stage (all three tasks from scratch).
        stage1: Ladon stage 1 (feature distillation + beta x bits + aux loss).
        stage2: Ladon stage 2 (entropy model frozen; decoder, body, classifier with KD).
        heads: Detection and segmentation heads on the frozen shared body.
        stage1_finetune: Optional. When set, only the first beta runs ``stage1`` from a
            fresh bottleneck; every other beta starts its stage 1 from the first beta's
            finished stage 1 and runs this (shorter) stage instead, the usual way to get
            more rate points of a learned codec from one long run.
    """

    teacher: StageConfig
    stage1: StageConfig
    stage2: StageConfig
    heads: StageConfig
    stage1_finetune: StageConfig | None = None
    betas: tuple[float, ...] = (0.5, 2.0, 8.0)
    teacher_model: str = 'teacher_small'
    ladon_model: str = 'ladon_small'
    run_dir: str = 'runs/small'
    weights_dir: str = 'ladon_ros/weights'
    batch_size: int = 16
    train_seed: int = 0
    seed: int = 0
    device: str = 'auto'
    threads: int = 0
    save_every: int = 50
    log_every: int = 10
    half_weights: bool = True
    kd_alpha: float = 0.5
    kd_temperature: float = 1.0
    source: str = field(default='', compare=False)


_STAGES = ('teacher', 'stage1', 'stage2', 'heads')
_OPTIONAL_STAGES = ('stage1_finetune',)
_AUX_STAGES = ('stage1', 'stage1_finetune')  # the stages that train the entropy model


def _stage(name: str, raw) -> StageConfig:
    if not isinstance(raw, dict):
        raise ValueError(f'{name}: expected a mapping, got {type(raw).__name__}')
    known = {f.name for f in dataclasses.fields(StageConfig)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f'{name}: unknown keys {sorted(unknown)}; known: {sorted(known)}')
    try:
        st = StageConfig(
            steps=int(raw['steps']), lr=float(raw['lr']), warmup_steps=int(raw.get('warmup_steps', 0)),
            weight_decay=float(raw.get('weight_decay', 0.0)),
            time_limit_min=None if raw.get('time_limit_min') is None else float(raw['time_limit_min']),
            batch_size=None if raw.get('batch_size') is None else int(raw['batch_size']),
            aux_lr=None if raw.get('aux_lr') is None else float(raw['aux_lr']))
    except KeyError as err:
        raise ValueError(f'{name}: missing key {err}') from None
    if st.steps < 0 or st.lr <= 0 or st.warmup_steps < 0 or (st.batch_size is not None and st.batch_size < 1):
        raise ValueError(f'{name}: steps >= 0, lr > 0, warmup_steps >= 0 and batch_size >= 1 required')
    if st.aux_lr is not None and (st.aux_lr <= 0 or name not in _AUX_STAGES):
        raise ValueError(f'{name}: aux_lr must be > 0 and is only used by {list(_AUX_STAGES)}')
    return st


def parse_config(raw: dict, source: str = '') -> TrainConfig:
    """Validates a dict (as from ``yaml.safe_load``) into a ``TrainConfig``."""
    if not isinstance(raw, dict):
        raise ValueError('a training config must be a YAML mapping')
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {'source'}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f'unknown config keys {sorted(unknown)}; known: {sorted(known)}')
    missing = [s for s in _STAGES if s not in raw]
    if missing:
        raise ValueError(f'config needs the stages {missing}')
    kw = {k: v for k, v in raw.items() if k not in _STAGES + _OPTIONAL_STAGES}
    if 'betas' in kw:
        kw['betas'] = tuple(float(b) for b in kw['betas'])
    stages = {s: _stage(s, raw[s]) for s in _STAGES}
    stages.update({s: _stage(s, raw[s]) for s in _OPTIONAL_STAGES if raw.get(s) is not None})
    cfg = TrainConfig(**stages, **kw, source=source)
    if not cfg.betas or any(b <= 0 for b in cfg.betas) or len(set(cfg.betas)) != len(cfg.betas):
        raise ValueError(f'betas must be distinct positive numbers, got {cfg.betas}')
    if cfg.batch_size < 1 or cfg.save_every < 1 or cfg.log_every < 1:
        raise ValueError('batch_size, save_every and log_every must be >= 1')
    if cfg.device not in ('auto', 'cpu', 'cuda'):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {cfg.device!r}")
    if not 0.0 <= cfg.kd_alpha <= 1.0 or cfg.kd_temperature <= 0:
        raise ValueError('kd_alpha in [0, 1] and kd_temperature > 0 required')
    for name in ('teacher_model', 'ladon_model'):
        from ladon_ros.models.registry import model_kind
        want = 'teacher' if name == 'teacher_model' else 'ladon'
        if model_kind(getattr(cfg, name)) != want:
            raise ValueError(f'{name} {getattr(cfg, name)!r} is not a {want} model')
    return cfg


def load_config(path: str | Path) -> TrainConfig:
    """Reads a YAML training config (``yaml.safe_load``, no custom tags)."""
    with open(path, encoding='utf-8') as f:
        raw = yaml.safe_load(f)
    return parse_config(raw, source=str(path))


def beta_tag(beta: float) -> str:
    """File-name tag of a rate point: 0.5 -> 'b0.5', 2.0 -> 'b2'."""
    return f'b{beta:g}'
