"""A validated stage keeps its best weights, logs the curve, stops at a plateau and resumes."""
import json

import torch
from torch import nn

from ladon_ros.train.config import StageConfig
from ladon_ros.train.loop import run_stage

torch.set_num_threads(1)


def _stage(tmp, model, scores, *, steps=40, val_every=5, patience=3, fail_at=None):
    """A toy stage whose validation returns the scripted ``scores`` in turn and records the
    first weight at each validation."""
    seen = []

    def step_fn(step):
        if fail_at is not None and step == fail_at:
            raise KeyboardInterrupt
        x = torch.full((4, 1), 1.0)
        loss = ((model(x) - 3.0) ** 2).mean()
        return {'loss': loss}

    def val_fn():
        seen.append(float(model.weight.detach()[0, 0]))
        return {'score': scores[len(seen) - 1], 'top1': 0.0}

    cfg = StageConfig(steps=steps, lr=0.05, val_every=val_every, val_patience=patience)
    res = run_stage(name='toy', cfg=cfg, model=model, params=list(model.parameters()), step_fn=step_fn,
                    run_dir=tmp, device='cpu', save_every=5, log_every=5, log_path=tmp / 'log.jsonl', val_fn=val_fn)
    return res, seen


def _model():
    torch.manual_seed(0)
    return nn.Linear(1, 1)


def test_plateau_stops_and_keeps_the_best_weights(tmp_path):
    model = _model()
    # Validations at steps 0, 5, 10, ...: the best is the third (step 10), then 3 without gain.
    res, seen = _stage(tmp_path, model, [0.1, 0.3, 0.5, 0.4, 0.5, 0.2, 0.9])
    assert res.steps_done == 25 and len(seen) == 6
    assert float(model.weight.detach()[0, 0]) == seen[2]  # the weights of step 10, not of step 25
    vals = [json.loads(line) for line in (tmp_path / 'log.jsonl').read_text().splitlines() if '"val"' in line]
    assert [v['step'] for v in vals] == [0, 5, 10, 15, 20, 25] and vals[-1]['val_best_step'] == 10
    state = json.loads((tmp_path / 'toy.json').read_text())
    assert state['done'] and state['val']['best_step'] == 10 and state['val']['plateau']


def test_without_patience_it_runs_to_the_end_and_still_keeps_the_best(tmp_path):
    model = _model()
    res, seen = _stage(tmp_path, model, [0.0, 0.2, 0.9, 0.1, 0.1], steps=20, patience=0)
    assert res.steps_done == 20 and len(seen) == 5
    assert float(model.weight.detach()[0, 0]) == seen[2]


def test_validation_state_survives_an_interruption(tmp_path):
    model = _model()
    scores = [0.1, 0.6, 0.2, 0.3, 0.4, 0.5, 0.7]
    try:
        _stage(tmp_path, model, scores, fail_at=12)
    except KeyboardInterrupt:
        pass
    # The saved state at step 10 knows the best (step 5) and one validation without gain; the
    # resumed stage counts on from there and stops at step 20 (3 without gain since step 5).
    model = _model()
    res, seen = _stage(tmp_path, model, scores[3:])
    assert res.steps_done == 20 and len(seen) == 2
    state = json.loads((tmp_path / 'toy.json').read_text())
    assert state['val']['best_step'] == 5 and state['val']['bad'] == 3
