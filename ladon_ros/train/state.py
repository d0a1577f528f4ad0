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


# Tensor-name prefix and JSON key of each optimiser of a stage: the main one and, in
# stage 1, the entropy model's auxiliary (quantile) optimiser.
_OPT_MAIN, _OPT_AUX = ('optim', 'optimizer'), ('optim_aux', 'optimizer_aux')


def _file(path_prefix: Path, ext: str) -> Path:
    """``<prefix><ext>``; not ``with_suffix``, which would cut a stage name like 'b0.25_stage1'."""
    return path_prefix.parent / (path_prefix.name + ext)


def _flat_optimizer(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd['state'].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f'{prefix}.{idx}.{k}'] = v.detach().contiguous().cpu()
            else:
                scalars[f'{idx}.{k}'] = v
    groups = [{k: v for k, v in g.items()} for g in sd['param_groups']]
    return tensors, {'scalars': scalars, 'param_groups': groups}


def save_state(path_prefix: Path, model: nn.Module, opt: torch.optim.Optimizer, progress: dict,
               aux_opt: torch.optim.Optimizer | None = None) -> None:
    """Writes ``<prefix>.safetensors`` and ``<prefix>.json`` atomically (tmp + rename)."""
    path_prefix.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f'model.{k}': v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {}
    for o, (prefix, key) in ((opt, _OPT_MAIN), (aux_opt, _OPT_AUX)):
        if o is not None:
            opt_t, meta[key] = _flat_optimizer(o, prefix)
            tensors.update(opt_t)
    tmp = _file(path_prefix, '.safetensors.tmp')
    save_file(tensors, str(tmp))
    os.replace(tmp, _file(path_prefix, '.safetensors'))
    tmpj = _file(path_prefix, '.json.tmp')
    tmpj.write_text(json.dumps({**progress, **meta}, indent=1, default=float))
    os.replace(tmpj, _file(path_prefix, '.json'))


def read_progress(path_prefix: Path) -> dict | None:
    """The JSON progress of a saved state, or None if there is none."""
    p = _file(path_prefix, '.json')
    if not p.is_file() or not _file(path_prefix, '.safetensors').is_file():
        return None
    return json.loads(p.read_text())


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict, meta: dict, prefix: str) -> None:
    sd = opt.state_dict()
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith(prefix + '.'):
            _, idx, name = k.split('.', 2)
            state.setdefault(int(idx), {})[name] = v
    for k, v in meta['scalars'].items():
        idx, name = k.split('.', 1)
        state.setdefault(int(idx), {})[name] = v
    groups = meta['param_groups']
    for g, cur in zip(groups, sd['param_groups']):
        g['params'] = cur['params']
    opt.load_state_dict({'state': state, 'param_groups': groups})


def load_state(path_prefix: Path, model: nn.Module, opt: torch.optim.Optimizer | None, device,
               aux_opt: torch.optim.Optimizer | None = None) -> dict:
    """Restores model (and optimisers) from ``save_state`` output; returns the progress dict.

    Pass no optimiser to take only the model weights (e.g. to start another stage from them).
    """
    progress = read_progress(path_prefix)
    if progress is None:
        raise FileNotFoundError(f'no training state at {path_prefix}')
    tensors = load_file(str(_file(path_prefix, '.safetensors')), device=str(device))
    msd = {k[len('model.'):]: v for k, v in tensors.items() if k.startswith('model.')}
    eb = getattr(getattr(model, 'bottleneck', None), 'entropy_bottleneck', None)
    if eb is not None:
        from ladon_ros.models.compressai_import import update_registered_buffers
        update_registered_buffers(eb, 'bottleneck.entropy_bottleneck', list(_CDF_BUFFERS), msd)
    model.load_state_dict(msd, strict=True)
    for o, (prefix, key) in ((opt, _OPT_MAIN), (aux_opt, _OPT_AUX)):
        if o is not None:
            if key not in progress:
                raise ValueError(f'{path_prefix}: the saved state has no {key} to resume')
            _restore_optimizer(o, tensors, progress[key], prefix)
    return progress
