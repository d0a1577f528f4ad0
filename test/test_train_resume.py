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


class _WithAux(nn.Module):
    """A toy model with an 'aux' parameter fitted only by its own loss (like the quantiles)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        self.q = nn.Parameter(torch.zeros(3))


def _run_aux(tmp, model, steps, fail_at=None, aux_lr=0.1):
    xs = torch.randn(steps, 8, 4, generator=torch.Generator().manual_seed(0))

    def step_fn(step):
        if fail_at is not None and step == fail_at:
            raise _Boom()
        x = xs[step]
        loss = ((model.net(x) - x.sum(1, keepdim=True)) ** 2).mean()
        aux = 1000.0 * (model.q - torch.tensor([1.0, 2.0, 3.0])).abs().sum()  # large, like CompressAI's
        return {'loss': loss, 'aux': aux}

    return run_stage(name='toy', cfg=StageConfig(steps=steps, lr=0.05, warmup_steps=2, aux_lr=aux_lr), model=model,
                     params=list(model.net.parameters()), aux_params=[model.q], step_fn=step_fn, run_dir=tmp,
                     device='cpu', save_every=2, log_every=1, log_path=tmp / 'log.jsonl')


def test_aux_optimiser_is_separate_and_resumes(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir(), b.mkdir()
    ref = _WithAux()
    _run_aux(a, ref, 7)
    # The aux parameter moved at its own constant rate (Adam: ~aux_lr per step) ...
    assert torch.allclose(ref.q.detach(), torch.full((3,), 0.7), atol=1e-4)
    # ... and the large aux loss did not eat the main gradient clip: same main weights as
    # a run without any aux term.
    c = tmp_path / 'c'
    c.mkdir()
    plain = _model()
    _run(c, plain, 7)
    for p, q in zip(plain.parameters(), ref.net.parameters()):
        assert torch.allclose(p, q)
    m = _WithAux()
    with pytest.raises(_Boom):
        _run_aux(b, m, 7, fail_at=5)
    resumed = _WithAux()
    _run_aux(b, resumed, 7)
    for p, q in zip(ref.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


def test_aux_params_need_an_aux_lr_and_must_not_overlap(tmp_path):
    m = _WithAux()
    with pytest.raises(ValueError, match='aux_lr'):
        _run_aux(tmp_path, m, 2, aux_lr=None)
    with pytest.raises(ValueError, match='overlap'):
        run_stage(name='x', cfg=StageConfig(steps=1, lr=0.1, aux_lr=0.1), model=m, params=list(m.parameters()),
                  aux_params=[m.q], step_fn=lambda s: {}, run_dir=tmp_path, device='cpu', save_every=1,
                  log_every=1, log_path=tmp_path / 'l.jsonl')


def test_init_from_takes_weights_of_a_finished_stage_only(tmp_path):
    src = _model()
    _run(tmp_path, src, 3)
    fresh = _model()
    with torch.no_grad():
        fresh[0].weight.zero_()

    def no_step(step):
        raise _Boom()

    cfg = StageConfig(steps=0, lr=0.1)
    run_stage(name='next', cfg=cfg, model=fresh, params=list(fresh.parameters()), step_fn=no_step,
              run_dir=tmp_path, device='cpu', save_every=1, log_every=1, log_path=tmp_path / 'l.jsonl',
              init_from=tmp_path / 'toy')
    assert torch.equal(fresh[0].weight, src[0].weight)
    with pytest.raises(RuntimeError, match='not finished'):
        run_stage(name='other', cfg=cfg, model=_model(), params=list(fresh.parameters()), step_fn=no_step,
                  run_dir=tmp_path, device='cpu', save_every=1, log_every=1, log_path=tmp_path / 'l.jsonl',
                  init_from=tmp_path / 'missing')


def test_state_files_keep_stage_names_with_dots(tmp_path):
    # 'b0.25_stage1' once became 'b0.safetensors' (Path.with_suffix), so every stage of a
    # fractional rate point overwrote the same files.
    from ladon_ros.train.state import read_progress, save_state
    m = _model()
    opt = torch.optim.Adam(m.parameters())
    save_state(tmp_path / 'b0.25_stage1', m, opt, {'done': True})
    save_state(tmp_path / 'b0.25_stage2', m, opt, {'done': False})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'b0.25_stage1.json', 'b0.25_stage1.safetensors', 'b0.25_stage2.json', 'b0.25_stage2.safetensors']
    assert read_progress(tmp_path / 'b0.25_stage1')['done'] is True
