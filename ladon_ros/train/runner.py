"""The training recipe (docs/TRAINING.md, ../shared/LADON.md): teacher, then per beta
stage 1 (feature distillation + beta x bits + aux), stage 2 (``update()``, frozen encoder and
entropy model; decoder + body + classifier with KD) and the detection/segmentation heads on
the frozen shared body. Final weights go to ``weights_dir`` as shipped checkpoints.
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

from ladon_ros.checkpoint import save_checkpoint
from ladon_ros.data.dataset import SceneDataset, collate_scenes
from ladon_ros.models.registry import build_model
from ladon_ros.train.config import TrainConfig, beta_tag
from ladon_ros.train.loop import StageResult, run_stage
from ladon_ros.train.state import read_progress
from ladon_ros.train.losses import bits_per_image, feature_distillation, kd_loss, task_losses

# Training-time sampling of Faster R-CNN, lighter than torchvision's defaults (2000
# proposals, 512 RoIs per image): the scenes hold <= 7 objects, and on a CPU the RoI
# sampling dominates the step time otherwise.
DET_TRAIN_PRE_NMS, DET_TRAIN_POST_NMS, DET_TRAIN_ROIS = 300, 150, 64
_OFFSETS = {'teacher': 0, 'stage1': 10_000_000, 'stage2': 20_000_000, 'heads': 30_000_000,
            'stage1_finetune': 40_000_000}


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


class Batches:
    """Deterministic batches of fresh generated scenes: step s of a stage -> its own scenes."""

    def __init__(self, cfg: TrainConfig, input_size: tuple[int, int], stage: str, device: torch.device):
        self.ds = SceneDataset(length=10_000_000, image_size=input_size, seed=cfg.train_seed,
                               offset=_OFFSETS[stage])
        self.bs, self.device = getattr(cfg, stage).batch_size or cfg.batch_size, device

    def __call__(self, step: int) -> tuple[torch.Tensor, list[dict]]:
        i0 = (step * self.bs) % (len(self.ds) - self.bs)
        x, targets = collate_scenes([self.ds[i] for i in range(i0, i0 + self.bs)])
        targets = [{k: v.to(self.device) for k, v in t.items()} for t in targets]
        return x.to(self.device), targets


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


def _notes(cfg: TrainConfig, results: list[StageResult]) -> str:
    stages = ', '.join(f'{r.name} {r.steps_done} steps {r.elapsed_s / 60:.1f} min'
                       + (' (time limit)' if r.stopped_early else '') for r in results)
    return (f'trained by ladon-ros train --config {cfg.source or "?"} on the synthetic world '
            f'(seed {cfg.train_seed}, batch {cfg.batch_size}) {datetime.date.today().isoformat()}: {stages}')


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

    teacher = build_model(cfg.teacher_model).to(device)
    lighten_detection_sampling(teacher)
    size = tuple(teacher.spec.input_size)
    if 'teacher' in stages or 'ladon' in stages:
        teacher_step = partial(_teacher_terms, teacher=teacher, batches=Batches(cfg, size, 'teacher', device))
        if 'teacher' not in stages and not (read_progress(run_dir / 'teacher') or {}).get('done'):
            raise RuntimeError(f'the teacher stage in {run_dir} has not finished: run with stages teacher first')
        teacher.train()
        params = _set_trainable(teacher, [teacher])
        res = run_stage(name='teacher', cfg=cfg.teacher, model=teacher, params=params, step_fn=teacher_step, **common)
        summary['teacher'] = res.__dict__
        if 'teacher' in stages:  # ladon-only runs (e.g. one process per beta) only read it
            export_checkpoint(teacher, weights_dir / f'{cfg.teacher_model}.safetensors', rate_point=0.0,
                              notes=_notes(cfg, [res]), half=cfg.half_weights)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    if 'ladon' in stages:
        for beta in (betas or cfg.betas):
            if beta not in cfg.betas:
                raise ValueError(f'beta {beta} is not in the config betas {cfg.betas}')
            summary.update(train_ladon(cfg, teacher, beta, device, common, weights_dir))
    summary['total_min'] = (time.perf_counter() - t0) / 60
    tag = '_'.join(stages) + ('_' + '_'.join(beta_tag(b) for b in betas) if betas else '')
    (run_dir / f'summary_{tag}.json').write_text(json.dumps(summary, indent=1, default=str))
    return summary


def train_ladon(cfg: TrainConfig, teacher: nn.Module, beta: float, device: torch.device, common: dict,
                weights_dir: Path) -> dict:
    """Stage 1, stage 2 and the heads for one rate point; writes its shipped checkpoint."""
    tag = beta_tag(beta)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.ladon_model).to(device)
    lighten_detection_sampling(model)
    # Student body and heads start as copies of the teacher's (stage 1 keeps them frozen).
    model.tail.load_state_dict(teacher.tail.state_dict())
    results = [_stage1(cfg, teacher, model, beta, device, common),
               _stage2(cfg, teacher, model, tag, device, common),
               _heads(cfg, model, tag, device, common)]
    model.eval()
    export_checkpoint(model, weights_dir / f'{cfg.ladon_model}_{tag}.safetensors', rate_point=beta,
                      notes=_notes(cfg, results), half=cfg.half_weights)
    return {r.name: r.__dict__ for r in results}


def _stage1(cfg: TrainConfig, teacher: nn.Module, model: nn.Module, beta: float, device: torch.device,
            common: dict) -> StageResult:
    """Stage 1: train encoder + entropy model + decoder; body/heads frozen (eval BN).

    With ``stage1_finetune``, the rate points after the first start from the first's stage 1.
    """
    bn = model.bottleneck
    first = beta == cfg.betas[0]
    s1_cfg = cfg.stage1 if first or cfg.stage1_finetune is None else cfg.stage1_finetune
    s1_init = None if s1_cfg is cfg.stage1 else Path(cfg.run_dir) / f'{beta_tag(cfg.betas[0])}_stage1'
    split_aux = s1_cfg.aux_lr is not None
    batches = Batches(cfg, model.spec.input_size, 'stage1' if s1_init is None else 'stage1_finetune', device)
    model.eval()
    bn.train()
    params = _set_trainable(model, [bn])
    aux_params = None
    if split_aux:  # CompressAI's split: the quantiles get their own optimiser
        aux_params = [p for n, p in bn.named_parameters() if n.endswith('quantiles')]
        params = [p for n, p in bn.named_parameters() if not n.endswith('quantiles')]
    step = partial(_stage1_terms, teacher=teacher, model=model, beta=beta, batches=batches, split_aux=split_aux)
    return run_stage(name=f'{beta_tag(beta)}_stage1', cfg=s1_cfg, model=model, params=params, step_fn=step,
                     aux_params=aux_params, init_from=s1_init, **common)


def _stage2(cfg: TrainConfig, teacher: nn.Module, model: nn.Module, tag: str, device: torch.device,
            common: dict) -> StageResult:
    """Stage 2: ``update()`` the entropy coder, freeze encoder + entropy model; fine-tune the
    decoder, body and classifier on the *rounded* latent (what the wire carries) with KD.

    The stage-1 feature term stays in the loss so the shared body does not drift away from
    what the detection/segmentation heads expect.
    """
    bn = model.bottleneck
    model.update(force=True)
    batches = Batches(cfg, model.spec.input_size, 'stage2', device)
    model.eval()
    for m in (bn.decoder, model.tail.body, model.tail.heads.classification):
        m.train()
    params = _set_trainable(model, [bn.decoder, model.tail.body, model.tail.heads.classification])
    step = partial(_stage2_terms, teacher=teacher, model=model, batches=batches, alpha=cfg.kd_alpha,
                   temperature=cfg.kd_temperature)
    return run_stage(name=f'{tag}_stage2', cfg=cfg.stage2, model=model, params=params, step_fn=step, **common)


def _heads(cfg: TrainConfig, model: nn.Module, tag: str, device: torch.device, common: dict) -> StageResult:
    """Heads: detection and segmentation trained on the frozen shared body."""
    batches = Batches(cfg, model.spec.input_size, 'heads', device)
    heads = model.tail.heads
    model.eval()
    heads.detection.train()
    heads.segmentation.train()
    params = _set_trainable(model, [heads.detection, heads.segmentation])
    step = partial(_heads_terms, model=model, batches=batches)
    return run_stage(name=f'{tag}_heads', cfg=cfg.heads, model=model, params=params, step_fn=step, **common)


# --- the loss terms of one batch of each stage (step -> {'loss': ..., named terms}) -----

def _teacher_terms(step: int, *, teacher: nn.Module, batches: Batches) -> dict:
    x, targets = batches(step)
    terms = task_losses(teacher(x, det_targets=_det_targets(targets)), targets)
    terms['loss'] = sum(terms.values())
    return terms


def _stage1_terms(step: int, *, teacher: nn.Module, model: nn.Module, beta: float, batches: Batches,
                  split_aux: bool) -> dict:
    """Feature distillation to the teacher + beta x bits per pixel, and the aux loss."""
    x, _ = batches(step)
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
    return {'loss': main if split_aux else main + aux, 'fd': fd, 'bpp': bpp, 'aux': aux}


def _stage2_terms(step: int, *, teacher: nn.Module, model: nn.Module, batches: Batches, alpha: float,
                  temperature: float) -> dict:
    """KD of the classifier on the rounded latent + the feature term."""
    x, targets = batches(step)
    bn = model.bottleneck
    with torch.no_grad():
        t_feats = teacher.tail.body(teacher.stem(x))
        t_logits = teacher.tail.heads.classification(t_feats)
        y_hat = bn.quantize_latent(bn.encoder(x))
    out = model.tail.train_forward(bn.decoder(y_hat), None, ('classification',))
    labels = torch.stack([t['scene'] for t in targets])
    kd = kd_loss(out['classification'], t_logits, labels, alpha=alpha, temperature=temperature)
    fd = feature_distillation(out['features'], t_feats)
    return {'loss': kd + fd, 'kd': kd, 'fd': fd}


def _heads_terms(step: int, *, model: nn.Module, batches: Batches) -> dict:
    """Detection and segmentation losses on the frozen body's features."""
    x, targets = batches(step)
    bn, heads = model.bottleneck, model.tail.heads
    with torch.no_grad():
        feats = model.tail.body(bn.decoder(bn.quantize_latent(bn.encoder(x))))
    out = {'segmentation': heads.segmentation(feats), 'detection': heads.detection(feats, _det_targets(targets))}
    terms = task_losses(out, targets)
    terms['loss'] = sum(terms.values())
    return terms
