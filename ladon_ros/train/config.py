"""Training configuration: plain YAML -> ``yaml.safe_load`` -> validated frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ladon_ros.config import ConfigError, from_mapping, one_of, param, positive
from ladon_ros.data.source import DataSource

_MAX = 2**31 - 1  # upper bound of counts and seeds (the ranges are inclusive)
_AUX_STAGES = ('stage1', 'stage1_finetune')  # the stages that train the entropy model
_VAL_KEYS = ('val_every', 'val_patience', 'val_scenes')  # the teacher's held-out validation


@dataclass(frozen=True)
class StageConfig:
    """One training stage."""

    steps: int = param(description='Optimiser steps (each on batch_size fresh generated scenes)',
                       range=(0, _MAX))
    lr: float = param(description='Peak learning rate (Adam/AdamW; linear warm-up, then cosine decay)',
                      check=positive)
    warmup_steps: int = param(0, 'Steps of linear warm-up', range=(0, _MAX))
    weight_decay: float = param(0.0, 'AdamW weight decay')
    time_limit_min: float | None = param(
        None, 'Optional wall-time cap [min]; the stage ends early and says so')
    batch_size: int | None = param(None, "Scenes per step for this stage (default: the run's batch_size)",
                                   range=(1, _MAX))
    aux_lr: float | None = param(
        None, "Stage 1 only: constant learning rate of the separate Adam that fits the entropy model's "
        "quantiles to the auxiliary loss (CompressAI's aux optimiser). Unset, the quantiles share the main "
        'optimiser, its schedule and its gradient clip', check=positive)
    val_every: int = param(
        0, 'Teacher only: steps between validations on a fixed held-out set of the synthetic world (world '
        '`val_seed`, `val_scenes` scenes; top-1, box mAP, mIoU and their mean, the score, go to losses.jsonl); '
        'the stage keeps the weights of the best score. 0: no validation', range=(0, _MAX))
    val_patience: int = param(
        0, 'Teacher only: stop at a plateau, after this many validations in a row without a better score. '
        '0: never stop early (run to steps / time limit, still keeping the best)', range=(0, _MAX))
    val_scenes: int = param(128, 'Teacher only: scenes in the validation set', range=(8, 100_000))
    data: tuple[DataSource, ...] = param(
        (), "Datasets this stage reads, each {format, path} (docs/TRAINING.md, 'Train on your robot's data'); "
        'one batch of each per step. Empty: fresh scenes of the built-in synthetic world')


def _betas(values: tuple[float, ...]) -> None:
    if not values or any(b <= 0 for b in values) or len(set(values)) != len(values):
        raise ValueError(f'must be distinct positive numbers, got {list(values)}')


def _model_of_kind(kind: str):
    def check(model_id: str) -> None:
        from ladon_ros.models.registry import model_kind
        if model_kind(model_id) != kind:
            raise ValueError(f'{model_id!r} is not a {kind} model')
    return check


@dataclass(frozen=True)
class TrainConfig:
    """A full training run: teacher, then one Ladon per rate point (beta)."""

    teacher: StageConfig = param(description='Teacher stage (all three tasks from scratch)')
    stage1: StageConfig = param(description='Ladon stage 1 (feature distillation + beta x bits + aux loss)')
    stage2: StageConfig = param(
        description='Ladon stage 2 (entropy model frozen; decoder, body, classifier with KD)')
    heads: StageConfig = param(description='Detection and segmentation heads on the frozen shared body')
    joint: StageConfig | None = param(
        None, 'Optional last stage: joint multi-task fine-tuning of the edge side (decoder, body and all three '
        'heads) on the rounded latent with the detection, segmentation and classification losses, KD of the '
        'classifier and joint_fd x the feature term; encoder and entropy model frozen, so the bitstream and '
        "the robot's ONNX bundles do not change (Entropic Student's stage 2, multi-task)")
    stage1_finetune: StageConfig | None = param(
        None, "Optional. When set, only the first beta runs stage1 from a fresh bottleneck; every other beta "
        "starts its stage 1 from the first beta's finished stage 1 and runs this (shorter) stage instead, the "
        'usual way to get more rate points of a learned codec from one long run')
    betas: tuple[float, ...] = param((0.5, 2.0, 8.0), 'Rate points; each trains its own bottleneck '
                                     '(bits weight in stage 1)', check=_betas)
    teacher_model: str = param('teacher_small', 'Registry name of the teacher',
                               check=_model_of_kind('teacher'))
    ladon_model: str = param('ladon_small', 'Registry name of the student', check=_model_of_kind('ladon'))
    run_dir: str = param('runs/small', 'Where resumable stage states and the loss log go')
    weights_dir: str = param('ladon_ros/weights',
                             'Where the final checkpoints go (<model>_b<beta>.safetensors)')
    batch_size: int = param(16, 'Scenes per step', range=(1, _MAX))
    train_seed: int = param(0, 'Seed of the training world (evaluation uses other seeds)', range=(0, _MAX))
    seed: int = param(0, 'Torch seed (initialisation)', range=(0, _MAX))
    device: str = param('auto', "'auto' (CUDA if available), 'cpu' or 'cuda'", check=one_of('auto', 'cpu', 'cuda'))
    threads: int = param(0, "Torch CPU threads (0 = torch's default)", range=(0, 1024))
    save_every: int = param(50, 'Steps between resumable saves', range=(1, _MAX))
    log_every: int = param(10, 'Steps between loss-log lines', range=(1, _MAX))
    half_weights: bool = param(True, 'Store shipped checkpoints in fp16 (entropy model kept fp32)')
    kd_alpha: float = param(0.5, 'Stage 2 weight of the KD term (paper: 0.5)', range=(0.0, 1.0))
    kd_temperature: float = param(1.0, 'Stage 2 KD temperature (paper: 1)', check=positive)
    teacher_init: str | None = param(
        None, 'A teacher checkpoint (.safetensors) the teacher stage starts from, e.g. the shipped one to '
        "fine-tune on your data; its class names must equal the data's (see teacher_init_partial)")
    teacher_init_partial: bool = param(
        False, "With teacher_init: allow a checkpoint whose classes differ from the data's. Stem, body and the "
        'heads of tasks with the same classes start from it; in a head whose task has other classes, the '
        'layers whose shape depends on the class count (e.g. the classifier\'s last layer) start fresh')
    stage1_init: str | None = param(
        None, 'A Ladon checkpoint (.safetensors) whose bottleneck (encoder, entropy model, decoder) the '
        "first beta's stage 1 starts from instead of a fresh one (warm start, e.g. the shipped rate point "
        'after a teacher fine-tune); its classes may differ, only the bottleneck is taken')
    stage1_kd: float = param(
        0.0, 'Stage 1 (and stage1_finetune) weight of a KD term (T = kd_temperature) between the '
        "classifier on the student's features (frozen teacher copy) and the teacher's logits, so the "
        'bottleneck keeps what the scene class needs. 0 = the paper (features + bits only)', range=(0.0, 1e6))
    joint_fd: float = param(
        0.1, 'Joint stage: weight of the feature term (sum over layer1..layer4 of the MSE to the teacher), a '
        'regulariser that keeps the body near the teacher while the task losses move it', range=(0.0, 1e6))
    joint_from: str | None = param(
        None, 'A folder of finished Ladon checkpoints (<ladon_model>_b<beta>.safetensors, and the teacher '
        '<teacher_model>.safetensors for KD): each rate point starts from its checkpoint there and runs only '
        'the joint stage (needs joint). E.g. ladon_ros/weights to fine-tune the shipped rate points')
    joint_from_model: str | None = param(
        None, "Model id of joint_from's Ladon checkpoints when it is not ladon_model, e.g. ladon_small to train "
        'ladon_small_wide on its frozen encoder and entropy model: everything whose shape matches is taken, the '
        'decoder of another architecture starts fresh and is first fitted by decoder_warmup',
        check=_model_of_kind('ladon'))
    decoder_warmup: StageConfig | None = param(
        None, 'With joint_from_model: the stage that fits a fresh decoder to the teacher\'s features through the '
        "frozen body (feature term only, the bitstream unchanged) before the joint stage; needed when the "
        'decoders differ')
    val_seed: int = param(2_000_000, 'World seed of the teacher validation set (training uses train_seed, '
                          'the evaluation 1000000 + N)', range=(0, _MAX))
    source: str = field(default='', compare=False)  # where the config was read from, not a key

    def __post_init__(self):
        for name in ('teacher', 'stage2', 'heads', 'joint', 'decoder_warmup'):
            if getattr(self, name) is not None and getattr(self, name).aux_lr is not None:
                raise ConfigError(f'{name}.aux_lr: only the stages that train the entropy model '
                                  f'({list(_AUX_STAGES)}) use it')
        defaults = StageConfig(steps=0, lr=1.0)
        for name in ('stage1', 'stage2', 'heads', 'stage1_finetune', 'joint', 'decoder_warmup'):
            stage = getattr(self, name)
            for key in _VAL_KEYS:
                if stage is not None and getattr(stage, key) != getattr(defaults, key):
                    raise ConfigError(f'{name}.{key}: only the teacher stage validates')
        if self.teacher.val_every and self.teacher.data:
            raise ConfigError('teacher.val_every: the validation set is the synthetic world; with teacher.data '
                              'set val_every to 0')
        if self.joint_from and self.joint is None:
            raise ConfigError('joint_from: needs a joint stage')
        if self.joint_from_model and not self.joint_from:
            raise ConfigError('joint_from_model: needs joint_from')
        if self.teacher_init_partial and not self.teacher_init:
            raise ConfigError('teacher_init_partial: needs teacher_init')


def parse_config(raw: dict, source: str = '') -> TrainConfig:
    """Validates a dict (as from ``yaml.safe_load``) into a ``TrainConfig``.

    Raises:
        ConfigError: Names the first refused key (``stage1.lr: ...``).
    """
    return from_mapping(TrainConfig, raw, source=source)


def load_config(path: str | Path) -> TrainConfig:
    """Reads a YAML training config (``yaml.safe_load``, no custom tags).

    A top-level ``extends: <file>`` (relative to this file) starts from that config's keys;
    the keys given here replace the base's whole (a stage is replaced, not merged).
    """
    return parse_config(_read_raw(Path(path), ()), source=str(path))


def _read_raw(path: Path, seen: tuple[Path, ...]) -> dict:
    with open(path, encoding='utf-8') as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict):
        raise ConfigError(f'{path}: a training config is a mapping of keys')
    base = raw.pop('extends', None)
    if base is None:
        return raw
    base_path = (path.parent / str(base)).resolve()
    if base_path in seen or base_path == path.resolve():
        raise ConfigError(f'{path}: extends {base} in a loop')
    if not base_path.is_file():
        raise ConfigError(f'{path}: extends {base}, which does not exist')
    return {**_read_raw(base_path, (*seen, path.resolve())), **raw}


def beta_tag(beta: float) -> str:
    """File-name tag of a rate point: 0.5 -> 'b0.5', 2.0 -> 'b2'."""
    return f'b{beta:g}'
