"""One resumable training stage: Adam(W), warm-up + cosine LR, tqdm, JSONL loss log.

Stage 1 also fits the entropy model's quantiles with a separate Adam at a constant
learning rate on the auxiliary loss (CompressAI's main/aux optimiser split): the aux loss
is large and only moves the quantiles, so it must neither set the main learning rate nor
eat the main gradient-clipping budget.

A stage with ``val_every`` (the teacher) validates on a held-out set every so many steps,
keeps the weights of the best score (``<stage>_best.safetensors``) and, with
``val_patience``, stops at a plateau; it ends holding the best weights.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from ladon_ros.train.config import StageConfig
from ladon_ros.train.state import load_state, read_progress, save_state

GRAD_CLIP = 10.0  # max global grad norm: from-scratch detection losses spike early


@dataclass
class StageResult:
    """What a finished (or skipped) stage reports."""

    name: str
    steps_done: int
    elapsed_s: float
    stopped_early: bool
    last_terms: dict


def lr_factor(step: int, cfg: StageConfig, elapsed_s: float = 0.0) -> float:
    """Linear warm-up to 1, then cosine decay to 0.02 at the end of the stage.

    The end is whichever comes first: ``cfg.steps`` or ``cfg.time_limit_min`` (so a stage
    cut short by its time limit still ends with a decayed learning rate).
    """
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.time_limit_min:
        t = max(t, elapsed_s / (cfg.time_limit_min * 60.0))
    t = min(1.0, t)
    return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * t))


def run_stage(*, name: str, cfg: StageConfig, model: nn.Module, params: list[nn.Parameter],
              step_fn: Callable[[int], dict[str, torch.Tensor]], run_dir: Path, device,
              save_every: int, log_every: int, log_path: Path,
              aux_params: list[nn.Parameter] | None = None, init_from: Path | None = None,
              val_fn: Callable[[], dict[str, float]] | None = None) -> StageResult:
    """Runs (or resumes, or skips if finished) one stage.

    Args:
        name: Stage name; its state is ``run_dir/<name>.safetensors|json``.
        cfg: Steps, learning rate, schedule, optional time limit.
        model: The whole model whose state is saved (frozen parts included).
        params: The parameters this stage trains.
        step_fn: ``step -> {'loss': scalar, other named terms}`` for one batch (forward only).
            With ``aux_params`` it also returns ``'aux'``, the auxiliary loss of those
            parameters (not part of ``'loss'``).
        run_dir: Folder of resumable states.
        device: Torch device (for loading states).
        save_every: Steps between saves.
        log_every: Steps between log lines.
        log_path: JSONL loss log (appended).
        aux_params: Parameters fitted by their own Adam at ``cfg.aux_lr`` on ``terms['aux']``
            (the entropy model's quantiles); they must not be in ``params``.
        init_from: A finished stage's state prefix whose model weights a fresh (not resumed)
            stage starts from; its optimiser state is not taken.
        val_fn: ``() -> metrics`` with a ``'score'`` (higher is better), called every
            ``cfg.val_every`` steps (and once before the first step) when that is > 0.

    Returns:
        The stage's result; the model holds the stage's final weights.
    """
    prefix = run_dir / name
    opt, aux_opt = _optimisers(name, cfg, params, aux_params)
    p = _resume(name, prefix, cfg, model, opt, aux_opt, device, init_from)
    if p.done:
        return StageResult(name, p.step, p.elapsed_s, p.stopped_early, p.last)
    run = _StageRun(name, cfg, prefix, model, params, opt, aux_opt, p, val_fn if cfg.val_every else None)
    run.train(step_fn, save_every, log_every, log_path)
    print(f'[{name}] done: {p.step} steps in {p.elapsed_s / 60:.1f} min; last {p.last}', flush=True)
    return StageResult(name, p.step, p.elapsed_s, p.stopped_early, p.last)


@dataclass
class _Progress:
    """Where a stage stands (what its JSON state says)."""

    step: int = 0
    elapsed_s: float = 0.0
    last: dict = field(default_factory=dict)
    done: bool = False
    stopped_early: bool = False
    val: dict = field(default_factory=dict)  # best_score, best_step, bad (validations since the best), last


def _optimisers(name: str, cfg: StageConfig, params: list[nn.Parameter],
                aux_params: list[nn.Parameter] | None):
    """AdamW over ``params`` and, with ``aux_params``, the separate Adam of the quantiles."""
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    aux_opt = None
    if aux_params:
        if cfg.aux_lr is None:
            raise ValueError(f'[{name}] aux_params given but the stage has no aux_lr')
        if {id(p) for p in aux_params} & {id(p) for p in params}:
            raise ValueError(f'[{name}] aux_params overlap the main parameters')
        aux_opt = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
    return opt, aux_opt


def _resume(name: str, prefix: Path, cfg: StageConfig, model: nn.Module, opt, aux_opt, device,
            init_from: Path | None) -> _Progress:
    """Loads the stage's saved state (weights only when it is done), or ``init_from``'s weights."""
    saved = read_progress(prefix)
    if saved is None:
        if init_from is not None:
            if not (read_progress(init_from) or {}).get('done'):
                raise RuntimeError(f'[{name}] starts from {init_from}, which has not finished')
            load_state(init_from, model, None, device)
            print(f'[{name}] starting from the weights of {init_from.name}', flush=True)
        return _Progress()
    done = bool(saved.get('done'))
    saved = load_state(prefix, model, None if done else opt, device, None if done else aux_opt)
    p = _Progress(step=int(saved['step']), elapsed_s=float(saved['elapsed_s']), last=saved.get('last_terms', {}),
                  done=done, stopped_early=done and bool(saved.get('stopped_early')), val=saved.get('val', {}))
    if done:
        print(f'[{name}] already finished at step {p.step} ({p.elapsed_s / 60:.1f} min): skipped', flush=True)
    else:
        print(f'[{name}] resuming at step {p.step}/{cfg.steps}', flush=True)
    return p


class _StageRun:
    """The training loop of one stage from ``p.step`` on; ``p`` is updated as it goes."""

    def __init__(self, name: str, cfg: StageConfig, prefix: Path, model: nn.Module, params: list[nn.Parameter],
                 opt, aux_opt, p: _Progress, val_fn: Callable[[], dict[str, float]] | None = None):
        self.name, self.cfg, self.prefix, self.model, self.params = name, cfg, prefix, model, params
        self.opt, self.aux_opt, self.p, self.val_fn = opt, aux_opt, p, val_fn
        self.best_path = prefix.parent / (prefix.name + '_best.safetensors')
        self.t_start = time.perf_counter() - p.elapsed_s

    def _validate(self, log) -> bool:
        """Validates, keeps the best weights; True when the plateau rule says stop."""
        p, cfg = self.p, self.cfg
        metrics = self.val_fn()
        v = p.val
        better = 'best_score' not in v or metrics['score'] > v['best_score']
        if better:
            v.update(best_score=metrics['score'], best_step=p.step, bad=0)
            save_file({k: t.detach().contiguous().cpu() for k, t in self.model.state_dict().items()},
                      str(self.best_path))
        else:
            v['bad'] = int(v.get('bad', 0)) + 1
        v['last'], v['last_step'] = metrics, p.step
        log.write(json.dumps({'stage': self.name, 'step': p.step, 'elapsed_s': round(time.perf_counter() - self.t_start, 2),
                              'val': metrics, 'val_best_step': v['best_step']}) + '\n')
        log.flush()
        print(f'[{self.name}] step {p.step} validation: '
              + ', '.join(f'{k} {x:.4f}' for k, x in metrics.items())
              + ('' if better else f" (best {v['best_score']:.4f} at step {v['best_step']}, {v['bad']} without gain)"),
              flush=True)
        return bool(cfg.val_patience) and v['bad'] >= cfg.val_patience

    def _take_best(self) -> None:
        """Loads the best validated weights into the model (the stage ends with them)."""
        if self.val_fn is None or not self.best_path.is_file():
            return
        device = next(self.model.parameters()).device
        self.model.load_state_dict(load_file(str(self.best_path), device=str(device)))
        print(f"[{self.name}] keeping the best validated weights (step {self.p.val['best_step']}, "
              f"score {self.p.val['best_score']:.4f})", flush=True)

    def train(self, step_fn: Callable[[int], dict[str, torch.Tensor]], save_every: int, log_every: int,
              log_path: Path) -> None:
        """Steps until ``cfg.steps`` or the time limit; logs, saves, and saves the final state."""
        cfg, p = self.cfg, self.p
        limit_s = None if cfg.time_limit_min is None else cfg.time_limit_min * 60.0
        bar = tqdm(total=cfg.steps, initial=p.step, desc=self.name, mininterval=5.0, dynamic_ncols=True)
        with log_path.open('a', encoding='utf-8') as log:
            if self.val_fn is not None and 'best_score' not in p.val and self._validate(log):
                p.val['plateau'] = True
            while p.step < cfg.steps and not p.val.get('plateau'):
                if limit_s is not None and time.perf_counter() - self.t_start > limit_s:
                    p.stopped_early = True
                    print(f'[{self.name}] time limit {cfg.time_limit_min} min reached at step {p.step}/{cfg.steps}',
                          flush=True)
                    break
                self._step(step_fn)
                bar.update(1)
                if p.step % log_every == 0 or p.step == cfg.steps:
                    bar.set_postfix(loss=f"{p.last['loss']:.3f}")
                    log.write(json.dumps({'stage': self.name, 'step': p.step, 'lr': self.opt.param_groups[0]['lr'],
                                          'elapsed_s': round(time.perf_counter() - self.t_start, 2), **p.last}) + '\n')
                    log.flush()
                if self.val_fn is not None and (p.step % cfg.val_every == 0 or p.step == cfg.steps):
                    if self._validate(log):
                        p.val['plateau'] = True
                        print(f"[{self.name}] plateau: {cfg.val_patience} validations without a better score "
                              f"since step {p.val['best_step']}", flush=True)
                if p.step % save_every == 0 and p.step < cfg.steps:
                    self._save(done=False)
            if self.val_fn is not None and p.val.get('last_step') != p.step:
                self._validate(log)  # the weights at the time limit get their chance too
        bar.close()
        self._take_best()
        self._save(done=True)
        p.elapsed_s = time.perf_counter() - self.t_start

    def _step(self, step_fn: Callable[[int], dict[str, torch.Tensor]]) -> None:
        """One optimiser step (and one of the aux optimiser) at the scheduled learning rate."""
        cfg, p, opt, aux_opt = self.cfg, self.p, self.opt, self.aux_opt
        for g in opt.param_groups:
            g['lr'] = cfg.lr * lr_factor(p.step, cfg, time.perf_counter() - self.t_start)
        terms = step_fn(p.step)
        loss = terms['loss'] + (terms['aux'] if aux_opt is not None else 0.0)
        if not torch.isfinite(loss):
            raise FloatingPointError(f'[{self.name}] non-finite loss at step {p.step}: '
                                     f'{ {k: float(v) for k, v in terms.items()} }')
        opt.zero_grad(set_to_none=True)
        if aux_opt is not None:
            aux_opt.zero_grad(set_to_none=True)
        loss.backward()  # the aux term only reaches aux_params (CompressAI detaches the rest)
        torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP)
        opt.step()
        if aux_opt is not None:
            aux_opt.step()
        p.step += 1
        p.last = {k: float(v.detach()) for k, v in terms.items()}

    def _save(self, done: bool) -> None:
        p = self.p
        save_state(self.prefix, self.model, self.opt, {
            'stage': self.name, 'step': p.step, 'steps': self.cfg.steps,
            'elapsed_s': time.perf_counter() - self.t_start, 'done': done, 'stopped_early': p.stopped_early,
            'last_terms': p.last, 'val': p.val}, self.aux_opt)
