"""A stage interrupted and resumed ends with exactly the weights of an uninterrupted run."""
import json

import pytest
import torch
from torch import nn

from ladon_ros.train.config import StageConfig
from ladon_ros.train.loop import run_stage

torch.set_num_threads(1)


class _Boom(RuntimeError):
    pass


def _run(tmp, model, steps, fail_at=None):
    data = torch.Generator().manual_seed(0)
    xs = torch.randn(steps, 8, 4, generator=data)

    def step_fn(step):
        if fail_at is not None and step == fail_at:
            raise _Boom()
        x = xs[step]
        loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        return {'loss': loss, 'mse': loss}

    return run_stage(name='toy', cfg=StageConfig(steps=steps, lr=0.05, warmup_steps=2), model=model,
                     params=list(model.parameters()), step_fn=step_fn, run_dir=tmp, device='cpu',
                     save_every=2, log_every=1, log_path=tmp / 'log.jsonl')


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


def test_resume_matches_uninterrupted(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir(), b.mkdir()
    ref = _model()
    _run(a, ref, 7)
    m = _model()
    with pytest.raises(_Boom):
        _run(b, m, 7, fail_at=5)  # last save at step 4
    resumed = _model()  # fresh weights: everything must come from the saved state
    res = _run(b, resumed, 7)
    assert res.steps_done == 7
    for p, q in zip(ref.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    lines = [json.loads(s) for s in (b / 'log.jsonl').read_text().splitlines()]
    assert lines[-1]['step'] == 7 and 'mse' in lines[-1]


def test_finished_stage_is_skipped_and_restores_weights(tmp_path):
    m = _model()
    _run(tmp_path, m, 3)
    again = _model()
    with torch.no_grad():
        again[0].weight.zero_()
    res = _run(tmp_path, again, 3, fail_at=0)  # would raise if it ran a step
    assert res.steps_done == 3
    assert torch.equal(again[0].weight, m[0].weight)
