"""The training recipe (docs/TRAINING.md, ../shared/LADON.md): teacher, then per beta
stage 1 (feature distillation + beta x bits + aux), stage 2 (``update()``, frozen encoder and
entropy model; decoder + body + classifier with KD), the detection/segmentation heads on
the frozen shared body and, optionally, the joint stage (decoder + body + all three heads
with every task loss, encoder and entropy model still frozen). Final weights go to
``weights_dir`` as shipped checkpoints.
"""
from __future__ import annotations

import copy
import datetime
import json
import time
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ladon_ros.checkpoint import load_checkpoint, save_checkpoint
from ladon_ros.models.registry import build_model, model_spec
from ladon_ros.train.config import TrainConfig, beta_tag
from ladon_ros.train.data import RunData, StageBatches, check_run_dir_classes
from ladon_ros.train.loop import StageResult, run_stage
from ladon_ros.train.state import read_progress
from ladon_ros.train.losses import bits_per_image, feature_distillation, kd_loss, task_losses
from ladon_ros.tasks import TASKS

# Training-time sampling of Faster R-CNN, lighter than torchvision's defaults (2000
# proposals, 512 RoIs per image): the scenes hold <= 7 objects, and on a CPU the RoI
# sampling dominates the step time otherwise.
DET_TRAIN_PRE_NMS, DET_TRAIN_POST_NMS, DET_TRAIN_ROIS = 300, 150, 64


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('device cuda requested but CUDA is not available')
    return torch.device(name)


def lighten_detection_sampling(model: nn.Module) -> None:
    """Applies the training-time proposal/RoI sampling sizes above (inference is unchanged)."""
    det = model.tail.heads.detection
    det.rpn._pre_nms_top_n['training'] = DET_TRAIN_PRE_NMS
    det.rpn._post_nms_top_n['training'] = DET_TRAIN_POST_NMS
    det.roi_heads.fg_bg_sampler.batch_size_per_image = DET_TRAIN_ROIS


def _det_targets(targets: list[dict]) -> list[dict]:
    return [{'boxes': t['boxes'], 'labels': t['labels']} for t in targets]


def _set_trainable(model: nn.Module, trainable: list[nn.Module]) -> list[nn.Parameter]:
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for m in trainable:
        for p in m.parameters():
            p.requires_grad_(True)
            params.append(p)
    return params


def export_checkpoint(model: nn.Module, path: Path, *, rate_point: float, notes: str, half: bool) -> None:
    """Writes a shipped checkpoint; with ``half``, floats become fp16 except the entropy model
    (its CDF tables are rebuilt from fp32 parameters, identical on robot and edge)."""
    m = copy.deepcopy(model).cpu().eval()
    if half:
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if t.is_floating_point() and not name.startswith('bottleneck.entropy_bottleneck'):
                t.data = t.data.half()
    meta = save_checkpoint(m, path, rate_point=rate_point, notes=notes)
    print(f'wrote {path} ({path.stat().st_size / 1e6:.2f} MB, hash {meta.short_hash})', flush=True)


def _notes(cfg: TrainConfig, data: RunData, results: list[StageResult]) -> str:
    stages = ', '.join(f'{r.name} {r.steps_done} steps {r.elapsed_s / 60:.1f} min'
                       + (' (time limit)' if r.stopped_early else '') for r in results)
    return (f'trained by ladon-ros train --config {cfg.source or "?"} on {data.describe()} '
            f'(batch {cfg.batch_size}) {datetime.date.today().isoformat()}: {stages}')


def train(cfg: TrainConfig, *, stages: tuple[str, ...] = ('teacher', 'ladon'), betas: tuple[float, ...] | None = None
          ) -> dict:
    """Runs the recipe; finished stages are skipped, interrupted ones resume.

    Args:
        cfg: The run.
        stages: ``'teacher'`` and/or ``'ladon'``.
        betas: Subset of ``cfg.betas`` to train (default: all).

    Returns:
        Summary: stage name -> steps, minutes, last loss terms.
    """
    device = pick_device(cfg.device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    run_dir, weights_dir = Path(cfg.run_dir), Path(cfg.weights_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / 'losses.jsonl'
    common = dict(run_dir=run_dir, device=device, save_every=cfg.save_every, log_every=cfg.log_every,
                  log_path=log_path)
    summary: dict = {}
    t0 = time.perf_counter()

    data = RunData(cfg, model_spec(cfg.teacher_model).input_size, model_spec(cfg.ladon_model).input_size)
    if cfg.joint_from:  # only the joint stage: the teacher is read, never trained
        if 'teacher' in stages:
            raise ValueError('joint_from: the run fine-tunes finished rate points; run without the teacher stage')
        teacher, _ = load_checkpoint(Path(cfg.joint_from) / f'{cfg.teacher_model}.safetensors',
                                     expect_model=cfg.teacher_model)
        teacher = teacher.float().to(device)
        check_run_dir_classes(run_dir, teacher.spec.classes)
    else:
        teacher = _build_teacher(cfg, data, run_dir).to(device)
    lighten_detection_sampling(teacher)
    if ('teacher' in stages or 'ladon' in stages) and not cfg.joint_from:
        teacher_step = partial(_teacher_terms, teacher=teacher, batches=data.batches('teacher', device))
        if 'teacher' not in stages and not (read_progress(run_dir / 'teacher') or {}).get('done'):
            raise RuntimeError(f'the teacher stage in {run_dir} has not finished: run with stages teacher first')
        teacher.train()
        params = _set_trainable(teacher, [teacher])
        val = None
        if cfg.teacher.val_every and 'teacher' in stages and not (read_progress(run_dir / 'teacher') or {}).get('done'):
            from ladon_ros.train.validate import TeacherValidation
            val = TeacherValidation(teacher, count=cfg.teacher.val_scenes, seed=cfg.val_seed)
        res = run_stage(name='teacher', cfg=cfg.teacher, model=teacher, params=params, step_fn=teacher_step,
                        val_fn=val, **common)
        summary['teacher'] = res.__dict__
        if 'teacher' in stages:  # ladon-only runs (e.g. one process per beta) only read it
            export_checkpoint(teacher, weights_dir / f'{cfg.teacher_model}.safetensors', rate_point=0.0,
                              notes=_notes(cfg, data, [res]), half=cfg.half_weights)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    if 'ladon' in stages:
        for beta in (betas or cfg.betas):
            if beta not in cfg.betas:
                raise ValueError(f'beta {beta} is not in the config betas {cfg.betas}')
            summary.update(train_ladon(cfg, teacher, beta, device, common, weights_dir, data))
    summary['total_min'] = (time.perf_counter() - t0) / 60
    tag = '_'.join(stages) + ('_' + '_'.join(beta_tag(b) for b in betas) if betas else '')
    (run_dir / f'summary_{tag}.json').write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _build_teacher(cfg: TrainConfig, data: RunData, run_dir: Path) -> nn.Module:
    """The teacher with the run's classes (from the data): fresh, or ``teacher_init``'s weights.

    Raises:
        DataError: The data's classes disagree with each other, with ``teacher_init`` or
            with what ``run_dir`` was trained on.
    """
    init = None
    if cfg.teacher_init:
        init, init_meta = load_checkpoint(cfg.teacher_init, expect_model=cfg.teacher_model)
    # A partial init takes the classes of the data (the synthetic world without data sections).
    exact = init is not None and not cfg.teacher_init_partial
    classes = data.classes(init_meta.classes if exact else None, cfg.teacher_init or '' if exact else '')
    check_run_dir_classes(run_dir, classes)
    teacher = build_model(cfg.teacher_model, classes=classes)
    if init is not None:
        fresh = load_partial(teacher, init.float(), init_meta.classes, classes) if cfg.teacher_init_partial else []
        if not cfg.teacher_init_partial:
            teacher.load_state_dict(init.float().state_dict())
        print(f'[teacher] starting from {cfg.teacher_init}'
              + (f" except {', '.join(fresh)} (other classes: fresh)" if fresh else ''), flush=True)
    return teacher


def load_partial(model: nn.Module, init: nn.Module, init_classes, classes) -> list[str]:
    """Loads ``init``'s weights into ``model`` except the class-count-dependent tensors of the
    heads whose task has other classes in ``classes`` than in ``init_classes``.

    Returns:
        The names of the tensors left fresh.

    Raises:
        ValueError: A tensor differs in shape outside such a head (another architecture).
    """
    changed = [t for t in ('classification', 'detection', 'segmentation')
               if tuple(getattr(init_classes, t)) != tuple(getattr(classes, t))]
    src, dst = init.state_dict(), model.state_dict()
    if set(src) != set(dst):
        raise ValueError(f'teacher_init has other tensors than {model.spec.name}: '
                         f'{sorted(set(src) ^ set(dst))[:6]}')
    fresh = []
    for k, v in src.items():
        if v.shape == dst[k].shape:
            dst[k] = v
        elif any(k.startswith(f'tail.heads.{t}.') for t in changed):
            fresh.append(k)
        else:
            raise ValueError(f'teacher_init: {k} has shape {tuple(v.shape)}, the model {tuple(dst[k].shape)}')
    model.load_state_dict(dst)
    return fresh


def train_ladon(cfg: TrainConfig, teacher: nn.Module, beta: float, device: torch.device, common: dict,
                weights_dir: Path, data: RunData) -> dict:
    """Stage 1, stage 2, the heads and the joint stage (when configured) for one rate point, or
    only the joint stage from ``joint_from``'s checkpoint; writes its shipped checkpoint."""
    tag = beta_tag(beta)
    torch.manual_seed(cfg.seed)
    if cfg.joint_from:
        model, fresh = _joint_start(cfg, teacher, tag)
        model = model.to(device)
        lighten_detection_sampling(model)
        results = []
        if fresh:
            if cfg.decoder_warmup is None:
                raise ValueError(f'{", ".join(fresh)} start fresh: the config needs a decoder_warmup stage')
            results.append(_decoder_warmup(cfg, teacher, model, tag, data, device, common))
        results.append(_joint(cfg, teacher, model, tag, data, device, common))
    else:
        model = build_model(cfg.ladon_model, classes=teacher.spec.classes).to(device)
        lighten_detection_sampling(model)
        # Student body and heads start as copies of the teacher's (stage 1 keeps them frozen).
        model.tail.load_state_dict(teacher.tail.state_dict())
        results = [_stage1(cfg, teacher, model, beta, data, device, common),
                   _stage2(cfg, teacher, model, tag, data, device, common),
                   _heads(cfg, model, tag, data, device, common)]
        if cfg.joint is not None:
            results.append(_joint(cfg, teacher, model, tag, data, device, common))
    model.eval()
    export_checkpoint(model, weights_dir / f'{cfg.ladon_model}_{tag}.safetensors', rate_point=beta,
                      notes=_notes(cfg, data, results), half=cfg.half_weights)
    return {r.name: r.__dict__ for r in results}


def _stage1(cfg: TrainConfig, teacher: nn.Module, model: nn.Module, beta: float, data: RunData,
            device: torch.device, common: dict) -> StageResult:
    """Stage 1: train encoder + entropy model + decoder; body/heads frozen (eval BN).

    With ``stage1_finetune``, the rate points after the first start from the first's stage 1.
    """
    bn = model.bottleneck
    first = beta == cfg.betas[0]
    s1_cfg = cfg.stage1 if first or cfg.stage1_finetune is None else cfg.stage1_finetune
    s1_init = None if s1_cfg is cfg.stage1 else Path(cfg.run_dir) / f'{beta_tag(cfg.betas[0])}_stage1'
    split_aux = s1_cfg.aux_lr is not None
    batches = data.batches('stage1' if s1_init is None else 'stage1_finetune', device)
    if first and cfg.stage1_init and read_progress(Path(cfg.run_dir) / f'{beta_tag(beta)}_stage1') is None:
        init, _ = load_checkpoint(cfg.stage1_init, expect_model=cfg.ladon_model)
        # CompressAI's load_state_dict resizes the CDF tables; stage 2 rebuilds them (update()).
        model.bottleneck.load_state_dict({k: (v.float() if v.is_floating_point() else v)
                                          for k, v in init.bottleneck.state_dict().items()})
        print(f'[{beta_tag(beta)}_stage1] bottleneck starts from {cfg.stage1_init}', flush=True)
    model.eval()
    bn.train()
    params = _set_trainable(model, [bn])
    aux_params = None
    if split_aux:  # CompressAI's split: the quantiles get their own optimiser
        aux_params = [p for n, p in bn.named_parameters() if n.endswith('quantiles')]
        params = [p for n, p in bn.named_parameters() if not n.endswith('quantiles')]
    step = partial(_stage1_terms, teacher=teacher, model=model, beta=beta, batches=batches, split_aux=split_aux,
                   kd_weight=cfg.stage1_kd, temperature=cfg.kd_temperature)
    return run_stage(name=f'{beta_tag(beta)}_stage1', cfg=s1_cfg, model=model, params=params, step_fn=step,
                     aux_params=aux_params, init_from=s1_init, **common)


def _stage2(cfg: TrainConfig, teacher: nn.Module, model: nn.Module, tag: str, data: RunData,
            device: torch.device, common: dict) -> StageResult:
    """Stage 2: ``update()`` the entropy coder, freeze encoder + entropy model; fine-tune the
    decoder, body and classifier on the *rounded* latent (what the wire carries) with KD.

    The stage-1 feature term stays in the loss so the shared body does not drift away from
    what the detection/segmentation heads expect.
    """
    bn = model.bottleneck
    model.update(force=True)
    batches = data.batches('stage2', device)
    model.eval()
    for m in (bn.decoder, model.tail.body, model.tail.heads.classification):
        m.train()
    params = _set_trainable(model, [bn.decoder, model.tail.body, model.tail.heads.classification])
    step = partial(_stage2_terms, teacher=teacher, model=model, batches=batches, alpha=cfg.kd_alpha,
                   temperature=cfg.kd_temperature)
    return run_stage(name=f'{tag}_stage2', cfg=cfg.stage2, model=model, params=params, step_fn=step,
                     **common)


def _heads(cfg: TrainConfig, model: nn.Module, tag: str, data: RunData, device: torch.device,
           common: dict) -> StageResult:
    """Heads: detection and segmentation trained on the frozen shared body."""
    batches = data.batches('heads', device)
    heads = model.tail.heads
    model.eval()
    heads.detection.train()
    heads.segmentation.train()
    params = _set_trainable(model, [heads.detection, heads.segmentation])
    step = partial(_heads_terms, model=model, batches=batches)
    return run_stage(name=f'{tag}_heads', cfg=cfg.heads, model=model, params=params, step_fn=step,
                     **common)


def _joint_start(cfg: TrainConfig, teacher: nn.Module, tag: str) -> tuple[nn.Module, list[str]]:
    """The rate point's model built from ``joint_from``'s checkpoint (of ``joint_from_model``).

    Returns:
        The model (fp32) and the names of the parts that start fresh (a decoder of another
        architecture); everything else, the robot side included, is the checkpoint's.
    """
    src_model = cfg.joint_from_model or cfg.ladon_model
    src = Path(cfg.joint_from) / f'{src_model}_{tag}.safetensors'
    init, meta = load_checkpoint(src, expect_model=src_model)
    if meta.classes != teacher.spec.classes:
        raise ValueError(f'{src} predicts other classes than the teacher it is fine-tuned with')
    model = build_model(cfg.ladon_model, classes=meta.classes)
    # CompressAI's CDF buffers have data-dependent sizes: the entropy model is taken whole.
    model.bottleneck.entropy_bottleneck = init.bottleneck.entropy_bottleneck
    dst, state = model.state_dict(), init.float().state_dict()
    taken = {k: v for k, v in state.items() if k in dst and dst[k].shape == v.shape}
    fresh = sorted({k.rsplit('.', 1)[0] for k in dst if k not in taken})
    if any(not k.startswith('bottleneck.decoder.') for k in fresh):
        raise ValueError(f'{src}: {cfg.ladon_model} differs from {src_model} outside the decoder: {fresh[:4]}')
    model.load_state_dict({**dst, **taken}, strict=True)
    model.update()  # keeps the loaded tables
    print(f'[{tag}] {cfg.ladon_model} starts from {src}' + (' (a fresh decoder)' if fresh else ''), flush=True)
    return model, ['bottleneck.decoder'] if fresh else []


def _decoder_warmup(cfg: TrainConfig, teacher: nn.Module, model: nn.Module, tag: str, data: RunData,
                    device: torch.device, common: dict) -> StageResult:
    """A fresh decoder fitted to the teacher's four stage outputs through the frozen body, from the
    rounded latent of the frozen encoder (stage 1's feature term without the rate)."""
    bn = model.bottleneck
    batches = data.batches('decoder_warmup', device)
    model.eval()
    bn.decoder.train()
    params = _set_trainable(model, [bn.decoder])
    step = partial(_decoder_terms, teacher=teacher, model=model, batches=batches)
    return run_stage(name=f'{tag}_decoder_warmup', cfg=cfg.decoder_warmup, model=model, params=params,
                     step_fn=step, **common)


def _joint(cfg: TrainConfig, teacher: nn.Module, model: nn.Module, tag: str, data: RunData,
           device: torch.device, common: dict) -> StageResult:
    """Joint: decoder + body + all three heads on the rounded latent with every task loss.

    Nothing so far trains the decoder or the body with a detection or segmentation loss,
    although detection pools its RoIs from the decoder's output (the finest FPN level);
    this stage does, with KD of the classifier and ``joint_fd`` x the feature term as
    regularisers. Encoder and entropy model stay frozen: the bitstream does not change.
    """
    bn, heads = model.bottleneck, model.tail.heads
    batches = data.batches('joint', device)
    model.eval()
    trained = [bn.decoder, model.tail.body, heads.classification, heads.detection, heads.segmentation]
    for m in trained:
        m.train()
    params = _set_trainable(model, trained)
    step = partial(_joint_terms, teacher=teacher, model=model, batches=batches, alpha=cfg.kd_alpha,
                   temperature=cfg.kd_temperature, fd_weight=cfg.joint_fd)
    return run_stage(name=f'{tag}_joint', cfg=cfg.joint, model=model, params=params, step_fn=step, **common)


# --- the loss terms of one step of each stage (step -> {'loss': ..., named terms}) ------
# A step holds one batch per dataset of the stage; each batch trains the tasks its dataset
# labels, and same-named terms of several batches add up.

def _add(terms: dict, more: dict) -> None:
    for k, v in more.items():
        terms[k] = terms[k] + v if k in terms else v


def _teacher_terms(step: int, *, teacher: nn.Module, batches: StageBatches) -> dict:
    terms: dict = {}
    for b in batches(step):
        det = _det_targets(b.targets) if 'detection' in b.tasks else None
        _add(terms, task_losses(teacher(b.x, det_targets=det, tasks=b.tasks), b.targets))
    terms['loss'] = sum(terms.values())
    return terms


def _stage1_terms(step: int, *, teacher: nn.Module, model: nn.Module, beta: float, batches: StageBatches,
                  split_aux: bool, kd_weight: float = 0.0, temperature: float = 1.0) -> dict:
    """Feature distillation to the teacher + beta x bits per pixel, and the aux loss (no labels);
    with ``kd_weight``, also KD of the (frozen) classifier on the student's features."""
    x = batches.images(step)
    bn = model.bottleneck
    h, w = model.spec.input_size
    with torch.no_grad():
        t_feats = teacher.tail.body(teacher.stem(x))
    out = bn(x)
    s_feats = model.tail.body(out['features'])
    fd = feature_distillation(s_feats, t_feats)
    bpp = bits_per_image(out['likelihoods']) / (h * w)
    aux = model.aux_loss()
    main = fd + beta * bpp
    terms = {'fd': fd, 'bpp': bpp, 'aux': aux}
    if kd_weight > 0:
        with torch.no_grad():
            t_logits = teacher.tail.heads.classification(t_feats)
        terms['kd'] = kd_loss(model.tail.heads.classification(s_feats), t_logits, None, alpha=1.0,
                              temperature=temperature)
        main = main + kd_weight * terms['kd']
    return {'loss': main if split_aux else main + aux, **terms}


@torch.no_grad()
def _teacher_and_latent(teacher: nn.Module, bn: nn.Module, x: torch.Tensor):
    """The teacher's stage outputs and logits, and the rounded latent (what the wire carries)."""
    t_feats = teacher.tail.body(teacher.stem(x))
    return t_feats, teacher.tail.heads.classification(t_feats), bn.quantize_latent(bn.encoder(x))


def _scene_labels(b) -> torch.Tensor | None:
    """The batch's scene labels, or None where its dataset labels no scene class."""
    return torch.stack([t['scene'] for t in b.targets]) if 'classification' in b.tasks else None


def _stage2_terms(step: int, *, teacher: nn.Module, model: nn.Module, batches: StageBatches, alpha: float,
                  temperature: float) -> dict:
    """KD of the classifier on the rounded latent (+ the label term where the data has scene
    labels) + the feature term."""
    terms: dict = {}
    bn = model.bottleneck
    for b in batches(step):
        t_feats, t_logits, y_hat = _teacher_and_latent(teacher, bn, b.x)
        out = model.tail.train_forward(bn.decoder(y_hat), None, ('classification',))
        labels = _scene_labels(b)
        kd = kd_loss(out['classification'], t_logits, labels, alpha=alpha, temperature=temperature)
        _add(terms, {'kd': kd, 'fd': feature_distillation(out['features'], t_feats)})
    return {'loss': terms['kd'] + terms['fd'], **terms}


def _heads_terms(step: int, *, model: nn.Module, batches: StageBatches) -> dict:
    """Detection and segmentation losses on the frozen body's features."""
    terms: dict = {}
    bn, heads = model.bottleneck, model.tail.heads
    for b in batches(step):
        with torch.no_grad():
            feats = model.tail.body(bn.decoder(bn.quantize_latent(bn.encoder(b.x))))
        out = {}
        if 'segmentation' in b.tasks:
            out['segmentation'] = heads.segmentation(feats)
        if 'detection' in b.tasks:
            out['detection'] = heads.detection(feats, _det_targets(b.targets))
        _add(terms, task_losses(out, b.targets))
    terms['loss'] = sum(terms.values())
    return terms


def _joint_terms(step: int, *, teacher: nn.Module, model: nn.Module, batches: StageBatches, alpha: float,
                 temperature: float, fd_weight: float) -> dict:
    """Every task loss the batch labels, KD of the classifier (with the scene label where there
    is one) and ``fd_weight`` x the feature term, all from the rounded latent."""
    terms: dict = {}
    bn = model.bottleneck
    for b in batches(step):
        t_feats, t_logits, y_hat = _teacher_and_latent(teacher, bn, b.x)
        det = _det_targets(b.targets) if 'detection' in b.tasks else None
        tasks = tuple(t for t in TASKS if t == 'classification' or t in b.tasks)
        out = model.tail.train_forward(bn.decoder(y_hat), det, tasks)
        labels = _scene_labels(b)
        supervised = task_losses({k: out[k] for k in ('segmentation', 'detection') if k in out}, b.targets)
        _add(terms, {'kd': kd_loss(out['classification'], t_logits, labels, alpha=alpha, temperature=temperature),
                     'fd': feature_distillation(out['features'], t_feats), **supervised})
    terms['loss'] = sum(v for k, v in terms.items() if k != 'fd') + fd_weight * terms['fd']
    return terms


def _decoder_terms(step: int, *, teacher: nn.Module, model: nn.Module, batches: StageBatches) -> dict:
    """The feature term of a fresh decoder on the rounded latent (body frozen)."""
    x = batches.images(step)
    bn = model.bottleneck
    with torch.no_grad():
        t_feats = teacher.tail.body(teacher.stem(x))
        y_hat = bn.quantize_latent(bn.encoder(x))
    fd = feature_distillation(model.tail.body(bn.decoder(y_hat)), t_feats)
    return {'loss': fd, 'fd': fd}
