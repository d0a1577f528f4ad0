"""Warm starts: a teacher from a checkpoint of other classes (teacher_init_partial), the first
rate point's stage 1 from a Ladon checkpoint's bottleneck (stage1_init), and stage 1's KD term."""
import json

import pytest
import torch
import yaml

from ladon_ros.checkpoint import load_checkpoint, save_checkpoint
from ladon_ros.data.formats import DataError
from ladon_ros.world import CLASSES
from ladon_ros.models.registry import build_model
from ladon_ros.tasks import TaskClasses
from ladon_ros.train.config import parse_config
from ladon_ros.train.runner import load_partial, train
from ladon_ros.train.state import load_state

torch.set_num_threads(1)
OLD = TaskClasses(classification=('indoor', 'outdoor', 'road'), detection=CLASSES.detection,
                  segmentation=CLASSES.segmentation)


def _config(tmp, name, **top):
    raw = yaml.safe_load(open('configs/train/tiny.yaml'))
    raw.update(run_dir=str(tmp / name / 'run'), weights_dir=str(tmp / name / 'w'), betas=[1.0, 4.0])
    raw.update(top)
    return parse_config(raw)


@pytest.fixture(scope='module')
def old_teacher(tmp_path_factory):
    """A teacher checkpoint with three scene classes (the world has more)."""
    path = tmp_path_factory.mktemp('old') / 'teacher_old.safetensors'
    torch.manual_seed(3)
    save_checkpoint(build_model('teacher_small', classes=OLD), path)
    return path


def test_partial_init_keeps_all_but_the_class_dependent_layers(tmp_path, old_teacher):
    with pytest.raises(DataError, match='being fine-tuned'):  # the exact init refuses other classes
        train(_config(tmp_path, 'exact', teacher_init=str(old_teacher)), stages=('teacher',))
    cfg = _config(tmp_path, 'partial', teacher_init=str(old_teacher), teacher_init_partial=True,
                  teacher={'steps': 0, 'lr': 1e-3})
    train(cfg, stages=('teacher',))
    new, meta = load_checkpoint(tmp_path / 'partial' / 'w' / 'teacher_small.safetensors')
    old, _ = load_checkpoint(old_teacher)
    assert meta.classes == CLASSES  # the data's classes (the synthetic world), not the checkpoint's
    fresh = {k for k, v in old.state_dict().items() if v.shape != new.state_dict()[k].shape}
    assert fresh == {'tail.heads.classification.fc.weight', 'tail.heads.classification.fc.bias'}
    for k, v in old.state_dict().items():  # (the shipped teacher is stored in fp16)
        if k not in fresh and v.is_floating_point():
            assert torch.equal(v.half(), new.state_dict()[k].half()), k


def test_partial_init_only_frees_heads_of_changed_tasks():
    src = build_model('teacher_small', classes=TaskClasses(
        classification=CLASSES.classification, detection=('__background__', 'a', 'b'),
        segmentation=CLASSES.segmentation))
    dst = build_model('teacher_small', classes=CLASSES)
    fresh = load_partial(dst, src, src.spec.classes, CLASSES)
    assert fresh and all(k.startswith('tail.heads.detection.') for k in fresh)
    # The same checkpoint claimed to have the run's detection classes: a shape mismatch there
    # is not a class change but another model, and is refused.
    with pytest.raises(ValueError, match='has shape'):
        load_partial(build_model('teacher_small', classes=CLASSES), src, CLASSES, CLASSES)


def test_stage1_init_and_stage1_kd(tmp_path):
    first = _config(tmp_path, 'src', stage1={'steps': 2, 'lr': 1e-3, 'aux_lr': 0.01})
    train(first)
    src_ckpt = tmp_path / 'src' / 'w' / 'ladon_small_b1.safetensors'
    cfg = _config(tmp_path, 'warm', stage1_init=str(src_ckpt), stage1_kd=1.0,
                  stage1={'steps': 0, 'lr': 1e-3, 'aux_lr': 0.01})
    train(cfg)
    # Stage 1 of the first beta ran 0 steps: its saved weights are the checkpoint's bottleneck.
    init, _ = load_checkpoint(src_ckpt)
    model = build_model('ladon_small', classes=CLASSES)
    load_state(tmp_path / 'warm' / 'run' / 'b1_stage1', model, None, 'cpu')
    for k, v in init.bottleneck.encoder.state_dict().items():
        assert torch.equal(v.float(), model.bottleneck.encoder.state_dict()[k]), k
    # The second beta fine-tunes that stage 1 with the KD term in its loss.
    log = [json.loads(line) for line in (tmp_path / 'warm' / 'run' / 'losses.jsonl').read_text().splitlines()]
    kd = [r['kd'] for r in log if r['stage'] == 'b4_stage1']
    assert kd and all(v >= 0 for v in kd)
    assert all('kd' not in r for r in log if r['stage'] == 'b4_stage1' and 'src' in str(r))
    src_log = (tmp_path / 'src' / 'run' / 'losses.jsonl').read_text().splitlines()
    assert all('kd' not in json.loads(line) for line in src_log if '_stage1' in line)  # the paper: no KD
