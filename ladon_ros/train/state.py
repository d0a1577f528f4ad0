"""Resumable training state: model + optimiser tensors in safetensors, progress in JSON.

Nothing is pickled: optimiser state is flattened to named tensors, and its few scalar
hyper-parameters live in the JSON next to the step counter.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

_CDF_BUFFERS = ('_quantized_cdf', '_offset', '_cdf_length')


def _flat_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd['state'].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f'optim.{idx}.{k}'] = v.detach().contiguous().cpu()
            else:
                scalars[f'{idx}.{k}'] = v
    groups = [{k: v for k, v in g.items()} for g in sd['param_groups']]
    return tensors, {'scalars': scalars, 'param_groups': groups}


def save_state(path_prefix: Path, model: nn.Module, opt: torch.optim.Optimizer, progress: dict) -> None:
    """Writes ``<prefix>.safetensors`` and ``<prefix>.json`` atomically (tmp + rename)."""
    path_prefix.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f'model.{k}': v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    opt_t, opt_meta = _flat_optimizer(opt)
    tensors.update(opt_t)
    tmp = path_prefix.with_suffix('.safetensors.tmp')
    save_file(tensors, str(tmp))
    os.replace(tmp, path_prefix.with_suffix('.safetensors'))
    tmpj = path_prefix.with_suffix('.json.tmp')
    tmpj.write_text(json.dumps({**progress, 'optimizer': opt_meta}, indent=1, default=float))
    os.replace(tmpj, path_prefix.with_suffix('.json'))


def read_progress(path_prefix: Path) -> dict | None:
    """The JSON progress of a saved state, or None if there is none."""
    p = path_prefix.with_suffix('.json')
    if not p.is_file() or not path_prefix.with_suffix('.safetensors').is_file():
        return None
    return json.loads(p.read_text())


def load_state(path_prefix: Path, model: nn.Module, opt: torch.optim.Optimizer | None, device) -> dict:
    """Restores model (and optimiser) from ``save_state`` output; returns the progress dict."""
    progress = read_progress(path_prefix)
    if progress is None:
        raise FileNotFoundError(f'no training state at {path_prefix}')
    tensors = load_file(str(path_prefix.with_suffix('.safetensors')), device=str(device))
    msd = {k[len('model.'):]: v for k, v in tensors.items() if k.startswith('model.')}
    eb = getattr(getattr(model, 'bottleneck', None), 'entropy_bottleneck', None)
    if eb is not None:
        from compressai.models.utils import update_registered_buffers
        update_registered_buffers(eb, 'bottleneck.entropy_bottleneck', list(_CDF_BUFFERS), msd)
    model.load_state_dict(msd, strict=True)
    if opt is not None:
        sd = opt.state_dict()
        meta = progress['optimizer']
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith('optim.'):
                _, idx, name = k.split('.', 2)
                state.setdefault(int(idx), {})[name] = v
        for k, v in meta['scalars'].items():
            idx, name = k.split('.', 1)
            state.setdefault(int(idx), {})[name] = v
        groups = meta['param_groups']
        for g, cur in zip(groups, sd['param_groups']):
            g['params'] = cur['params']
        opt.load_state_dict({'state': state, 'param_groups': groups})
    return progress
