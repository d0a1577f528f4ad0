"""One resumable training stage: Adam(W), warm-up + cosine LR, tqdm, JSONL loss log.

Stage 1 also fits the entropy model's quantiles with a separate Adam at a constant
learning rate on the auxiliary loss (CompressAI's main/aux optimiser split): the aux loss
is large and only moves the quantiles, so it must neither set the main learning rate nor
eat the main gradient-clipping budget.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
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
              aux_params: list[nn.Parameter] | None = None, init_from: Path | None = None) -> StageResult:
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

    Returns:
        The stage's result; the model holds the stage's final weights.
    """
    prefix = run_dir / name
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    aux_opt = None
    if aux_params:
        if cfg.aux_lr is None:
            raise ValueError(f'[{name}] aux_params given but the stage has no aux_lr')
        if {id(p) for p in aux_params} & {id(p) for p in params}:
            raise ValueError(f'[{name}] aux_params overlap the main parameters')
        aux_opt = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
    step, elapsed, last = 0, 0.0, {}
    progress = read_progress(prefix)
    if progress is None and init_from is not None:
        if not (read_progress(init_from) or {}).get('done'):
            raise RuntimeError(f'[{name}] starts from {init_from}, which has not finished')
        load_state(init_from, model, None, device)
        print(f'[{name}] starting from the weights of {init_from.name}', flush=True)
    if progress is not None:
        done = bool(progress.get('done'))
        progress = load_state(prefix, model, None if done else opt, device, None if done else aux_opt)
        step, elapsed = int(progress['step']), float(progress['elapsed_s'])
        last = progress.get('last_terms', {})
        if progress.get('done'):
            print(f'[{name}] already finished at step {step} ({elapsed / 60:.1f} min): skipped', flush=True)
            return StageResult(name, step, elapsed, bool(progress.get('stopped_early')), last)
        print(f'[{name}] resuming at step {step}/{cfg.steps}', flush=True)
    t_start = time.perf_counter() - elapsed
    stopped_early = False
    limit_s = None if cfg.time_limit_min is None else cfg.time_limit_min * 60.0

    def save(done: bool) -> None:
        save_state(prefix, model, opt, {
            'stage': name, 'step': step, 'steps': cfg.steps, 'elapsed_s': time.perf_counter() - t_start,
            'done': done, 'stopped_early': stopped_early, 'last_terms': last}, aux_opt)

    bar = tqdm(total=cfg.steps, initial=step, desc=name, mininterval=5.0, dynamic_ncols=True)
    with log_path.open('a', encoding='utf-8') as log:
        while step < cfg.steps:
            if limit_s is not None and time.perf_counter() - t_start > limit_s:
                stopped_early = True
                print(f'[{name}] time limit {cfg.time_limit_min} min reached at step {step}/{cfg.steps}', flush=True)
                break
            for g in opt.param_groups:
                g['lr'] = cfg.lr * lr_factor(step, cfg, time.perf_counter() - t_start)
            terms = step_fn(step)
            loss = terms['loss'] + (terms['aux'] if aux_opt is not None else 0.0)
            if not torch.isfinite(loss):
                raise FloatingPointError(f'[{name}] non-finite loss at step {step}: '
                                         f'{ {k: float(v) for k, v in terms.items()} }')
            opt.zero_grad(set_to_none=True)
            if aux_opt is not None:
                aux_opt.zero_grad(set_to_none=True)
            loss.backward()  # the aux term only reaches aux_params (CompressAI detaches the rest)
            torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
            opt.step()
            if aux_opt is not None:
                aux_opt.step()
            step += 1
            last = {k: float(v.detach()) for k, v in terms.items()}
            bar.update(1)
            if step % log_every == 0 or step == cfg.steps:
                bar.set_postfix(loss=f"{last['loss']:.3f}")
                log.write(json.dumps({'stage': name, 'step': step, 'lr': opt.param_groups[0]['lr'],
                                      'elapsed_s': round(time.perf_counter() - t_start, 2), **last}) + '\n')
                log.flush()
            if step % save_every == 0 and step < cfg.steps:
                save(False)
    bar.close()
    save(True)
    elapsed = time.perf_counter() - t_start
    print(f'[{name}] done: {step} steps in {elapsed / 60:.1f} min; last {last}', flush=True)
    return StageResult(name, step, elapsed, stopped_early, last)
