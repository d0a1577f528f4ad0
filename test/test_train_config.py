"""Training configs: YAML -> validated frozen dataclasses; the learning-rate schedule."""
import dataclasses

import pytest
import yaml

from ladon_ros.train.config import StageConfig, beta_tag, load_config, parse_config
from ladon_ros.train.loop import lr_factor

_BASE = {'teacher': {'steps': 3, 'lr': 1e-3}, 'stage1': {'steps': 2, 'lr': 1e-3},
         'stage2': {'steps': 2, 'lr': 1e-3}, 'heads': {'steps': 2, 'lr': 1e-3}}


def test_shipped_configs_parse(tmp_path):
    for name in ('small', 'tiny'):
        cfg = load_config(f'configs/train/{name}.yaml')
        assert len(cfg.betas) >= 3 and cfg.teacher_model == 'teacher_small' and cfg.ladon_model == 'ladon_small'
        with pytest.raises(dataclasses.FrozenInstanceError):
            cfg.batch_size = 3


def test_yaml_round_trip(tmp_path):
    p = tmp_path / 'c.yaml'
    p.write_text(yaml.safe_dump({**_BASE, 'betas': [1, 2, 4], 'batch_size': 4}))
    cfg = load_config(p)
    assert cfg.betas == (1.0, 2.0, 4.0) and cfg.batch_size == 4 and cfg.teacher == StageConfig(steps=3, lr=1e-3)
    assert cfg.stage1.batch_size is None
    raw = {**_BASE, 'stage1': {'steps': 2, 'lr': 1e-3, 'batch_size': 8, 'time_limit_min': 1.5}}
    assert parse_config(raw).stage1 == StageConfig(steps=2, lr=1e-3, batch_size=8, time_limit_min=1.5)


@pytest.mark.parametrize('bad', [
    {'bogus': 1},
    {'betas': []},
    {'betas': [1, 1, 2]},
    {'betas': [-1, 2, 3]},
    {'device': 'tpu'},
    {'batch_size': 0},
    {'kd_alpha': 2.0},
    {'teacher': {'steps': 3}},
    {'teacher': {'steps': 3, 'lr': 1e-3, 'momentum': 0.9}},
    {'teacher': {'steps': 3, 'lr': 0}},
    {'stage1': {'steps': 3, 'lr': 1e-3, 'batch_size': 0}},
    {'ladon_model': 'teacher_small'},
])
def test_invalid_configs_are_refused(bad):
    with pytest.raises(ValueError):
        parse_config({**_BASE, **bad})


def test_missing_stage_is_refused():
    raw = dict(_BASE)
    del raw['heads']
    with pytest.raises(ValueError, match='heads'):
        parse_config(raw)


def test_lr_schedule_warms_up_then_decays():
    cfg = StageConfig(steps=100, lr=1.0, warmup_steps=10)
    f = [lr_factor(s, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:])) and f[-1] < 0.05


def test_time_limit_ends_the_schedule_early():
    cfg = StageConfig(steps=1000, lr=1.0, time_limit_min=1.0)
    assert lr_factor(10, cfg, elapsed_s=0.0) > 0.99
    assert lr_factor(10, cfg, elapsed_s=60.0) == pytest.approx(0.02)


def test_beta_tag():
    assert beta_tag(0.5) == 'b0.5' and beta_tag(2.0) == 'b2' and beta_tag(8) == 'b8'


def test_aux_lr_and_stage1_finetune():
    raw = {**_BASE, 'stage1': {'steps': 2, 'lr': 1e-3, 'aux_lr': 0.01},
           'stage1_finetune': {'steps': 1, 'lr': 1e-4, 'aux_lr': 0.01}}
    cfg = parse_config(raw)
    assert cfg.stage1.aux_lr == 0.01 and cfg.stage1_finetune == StageConfig(steps=1, lr=1e-4, aux_lr=0.01)
    assert parse_config(_BASE).stage1_finetune is None
    with pytest.raises(ValueError, match='aux_lr'):
        parse_config({**_BASE, 'teacher': {'steps': 3, 'lr': 1e-3, 'aux_lr': 0.1}})
    with pytest.raises(ValueError, match='aux_lr'):
        parse_config({**_BASE, 'stage1': {'steps': 3, 'lr': 1e-3, 'aux_lr': 0}})


@pytest.mark.parametrize('bad, match', [
    ({'stage1': {'steps': 2, 'lr': 1e-3, 'val_every': 5}}, 'stage1.val_every: only the teacher'),
    ({'heads': {'steps': 2, 'lr': 1e-3, 'val_patience': 2}}, 'heads.val_patience: only the teacher'),
    ({'teacher': {'steps': 2, 'lr': 1e-3, 'val_every': 5, 'data': [{'format': 'images', 'path': 'x'}]}},
     'teacher.val_every: the validation set is the synthetic world'),
    ({'teacher_init_partial': True}, 'teacher_init_partial: needs teacher_init'),
    ({'teacher': {'steps': 2, 'lr': 1e-3, 'val_scenes': 2}}, 'val_scenes'),
    ({'stage1_kd': -1.0}, 'stage1_kd'),
])
def test_validation_and_warm_start_keys_are_checked(bad, match):
    with pytest.raises(ValueError, match=match):
        parse_config({**_BASE, **bad})


def test_small_config_documents_its_departures():
    cfg = load_config('configs/train/small.yaml')
    assert cfg.teacher.val_every > 0 and cfg.teacher.val_patience > 0 and cfg.teacher_init_partial
    # Without the warm-start keys the recipe is the paper's: every stage from scratch, no stage-1 KD.
    paper = parse_config(_BASE)
    assert paper.teacher_init is None and paper.stage1_init is None and paper.stage1_kd == 0.0
    assert paper.teacher.val_every == 0
