"""Training and evaluation from dataset files: a tiny run from exported COCO/image-folder files
matches the same run from the built-in loader; classes from a dataset reach the checkpoint
metadata and the edge's label_info; a checkpoint of other classes is refused for fine-tuning;
``ladon-ros eval --dataset`` measures a COCO set as the study measures the held-out world."""
import json

import pytest
import torch
import yaml
from std_msgs.msg import Header

from ladon_ros.checkpoint import load_checkpoint, read_metadata
from ladon_ros.data.export import export_dataset
from ladon_ros.data.formats import DataError
from ladon_ros.world import CLASSES, OBJECTS
from ladon_ros.edge import EdgePerception
from ladon_ros.eval.study import HELDOUT_SEED_BASE, Study
from ladon_ros.ros.conversions import to_label_info
from ladon_ros.train.config import parse_config
from ladon_ros.train.runner import train

torch.set_num_threads(1)
SEED, N = 11, 8
RENAMED = ('pallet', 'drum', 'bollard', 'worker', 'marker')


def _config(tmp, name, data: dict, **top):
    raw = yaml.safe_load(open('configs/train/tiny.yaml'))
    raw.update(run_dir=str(tmp / name / 'run'), weights_dir=str(tmp / name / 'w'), betas=[1.0])
    raw.update(top)
    for stage, sources in data.items():
        raw[stage] = {**raw[stage], 'data': sources}
    return parse_config(raw)


def _losses(run_dir):
    return [{k: v for k, v in json.loads(line).items() if k not in ('elapsed_s',)}
            for line in (run_dir / 'losses.jsonl').read_text().splitlines()]


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The same tiny recipe from exported files (classes renamed) and from the built-in loader."""
    tmp = tmp_path_factory.mktemp('byod')
    coco = tmp / 'coco'
    export_dataset('coco', coco, count=N, seed=SEED)
    doc = json.loads((coco / 'annotations.json').read_text())
    for c in doc['categories']:
        c['name'] = RENAMED[c['id'] - 1]
    (coco / 'annotations.json').write_text(json.dumps(doc))
    files = {'format': 'coco', 'path': str(coco)}
    builtin = {'format': 'synthetic', 'seed': SEED, 'count': N}
    cfg_files = _config(tmp, 'files', {'teacher': [files], 'stage1': [{'format': 'images', 'path': str(coco)}],
                                       'stage2': [files], 'heads': [files]})
    cfg_builtin = _config(tmp, 'builtin', {s: [builtin] for s in ('teacher', 'stage1', 'stage2', 'heads')})
    train(cfg_files)
    train(cfg_builtin)
    return tmp, cfg_files, cfg_builtin


def test_files_train_like_the_builtin_loader(runs):
    tmp, cfg_files, cfg_builtin = runs
    files, builtin = _losses(tmp / 'files' / 'run'), _losses(tmp / 'builtin' / 'run')
    # tiny.yaml logs every step: teacher 3, stage1, stage2, heads and joint 2 each
    assert [r['stage'] for r in files] == [r['stage'] for r in builtin] and len(files) == 11
    assert files == builtin  # the same batches and targets (PNG is lossless) -> the very same losses
    # ... and the same weights, hence the same metrics on any evaluation set.
    wf, wb = tmp / 'files' / 'w', tmp / 'builtin' / 'w'
    for name in ('teacher_small', 'ladon_small_b1'):
        a, b = load_checkpoint(wf / f'{name}.safetensors')[0], load_checkpoint(wb / f'{name}.safetensors')[0]
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert 'coco:' in read_metadata(wf / 'teacher_small.safetensors').notes


def test_dataset_classes_reach_checkpoint_and_label_info(runs):
    tmp = runs[0]
    w = tmp / 'files' / 'w'
    for f in ('teacher_small', 'ladon_small_b1'):
        meta = read_metadata(w / f'{f}.safetensors')
        assert meta.classes.detection == ('__background__',) + RENAMED
        assert meta.classes.segmentation == ('background',) + RENAMED
        assert meta.classes.classification == CLASSES.classification
    edge = EdgePerception.from_checkpoints([w / 'ladon_small_b1.safetensors'], w / 'teacher_small.safetensors')
    info = to_label_info(edge.classes, 'detection', Header(frame_id='cam'))
    assert [(c.class_id, c.class_name) for c in info.class_map] == list(enumerate(('__background__',) + RENAMED))
    assert read_metadata(tmp / 'builtin' / 'w' / 'teacher_small.safetensors').classes == CLASSES


def test_finetuning_needs_the_checkpoints_classes(runs):
    tmp, cfg_files, cfg_builtin = runs
    coco = cfg_files.teacher.data[0].path
    builtin_teacher = str(tmp / 'builtin' / 'w' / 'teacher_small.safetensors')
    bad = _config(tmp, 'ft_bad', {'teacher': [{'format': 'coco', 'path': coco}]}, teacher_init=builtin_teacher)
    with pytest.raises(DataError, match=r"detection classes \['__background__', 'pallet'.*disagree with the "
                                        r'checkpoint .*builtin/w/teacher_small.safetensors being fine-tuned'):
        train(bad, stages=('teacher',))
    # Same classes: the teacher starts from the checkpoint (0 steps: the very same weights).
    ok = _config(tmp, 'ft_ok', {}, teacher_init=builtin_teacher, teacher={'steps': 0, 'lr': 1e-3})
    train(ok, stages=('teacher',))
    assert read_metadata(tmp / 'ft_ok' / 'w' / 'teacher_small.safetensors').weights_hash == \
        read_metadata(builtin_teacher).weights_hash
    # A run folder keeps its classes: the renamed data cannot resume the built-in run.
    with pytest.raises(DataError, match='classes.json: this run folder was trained on other classes'):
        train(_config(tmp, 'builtin', {'teacher': cfg_files.teacher.data}), stages=('teacher',))


def test_eval_dataset_matches_the_heldout_study(runs, tmp_path):
    from ladon_ros.cli import main
    w = runs[0] / 'builtin' / 'w'
    coco = tmp_path / 'heldout'
    export_dataset('coco', coco, count=4, seed=HELDOUT_SEED_BASE + 2)
    kw = dict(ladon=[w / 'ladon_small_b1.safetensors'], teacher=w / 'teacher_small.safetensors', seed=2)
    from_files, world = Study(scenes=0, dataset=coco, **kw), Study(scenes=4, **kw)
    for codec, setting in (('ladon', 1.0), ('jpeg', 10)):
        a, b = from_files.run(codec, setting), world.run(codec, setting)
        assert (a.bytes_per_frame, a.top1, a.map, a.map50, a.miou) == (b.bytes_per_frame, b.top1, b.map, b.map50,
                                                                        b.miou)
    out = tmp_path / 'eval'
    assert main(['eval', '--quick', '--scenes', '2', '--dataset', str(coco), '--weights-dir', str(w),
                 '--json', str(out / 'rows.json'), '--out', str(out)]) == 0
    rows = json.loads((out / 'rows.json').read_text())
    assert {r['codec'] for r in rows['detection']} == {'teacher', 'ladon', 'jpeg', 'webp', 'png'}
    assert (out / 'table.md').read_text().startswith(f'Dataset {coco} (2 images)')
    # The renamed run's checkpoints predict other classes than this set names: refused.
    assert main(['eval', '--quick', '--dataset', str(coco), '--weights-dir', str(runs[0] / 'files' / 'w'),
                 '--out', str(out)]) == 2
    assert OBJECTS[0] == 'crate'


def test_every_format_trains_the_stages_it_labels(tmp_path, capsys):
    from ladon_ros.cli import main
    src = {}
    for fmt in ('coco', 'voc', 'imagefolder'):
        export_dataset(fmt, tmp_path / fmt, count=4, seed=SEED)
        src[fmt] = {'format': fmt, 'path': str(tmp_path / fmt)}
    unlabelled = {'format': 'images', 'path': str(tmp_path / 'voc' / 'JPEGImages')}
    raw = yaml.safe_load(open('configs/train/tiny.yaml'))
    raw.update(run_dir=str(tmp_path / 'run'), weights_dir=str(tmp_path / 'w'), betas=[1.0])
    for stage, data in {'teacher': [src['imagefolder'], src['voc'], src['coco']], 'stage1': [src['imagefolder']],
                        'stage2': [unlabelled], 'heads': [src['voc'], src['coco']]}.items():
        raw[stage] = {**raw[stage], 'data': data}
    (tmp_path / 'mix.yaml').write_text(yaml.safe_dump(raw))
    assert main(['train', '--config', str(tmp_path / 'mix.yaml')]) == 0
    log = _losses(tmp_path / 'run')
    teacher = next(r for r in log if r['stage'] == 'teacher')
    assert {'cls', 'seg', 'loss_classifier', 'loss_box_reg'} <= set(teacher)
    stage2 = next(r for r in log if r['stage'] == 'b1_stage2')  # unlabelled: distillation only
    assert set(stage2) >= {'kd', 'fd'} and all(v == v for k, v in stage2.items() if k != 'stage')
    assert {'seg', 'loss_box_reg'} <= set(next(r for r in log if r['stage'] == 'b1_heads'))
    assert read_metadata(tmp_path / 'w' / 'ladon_small_b1.safetensors').classes == CLASSES
    # Bad data: the CLI says which file, without a traceback.
    (tmp_path / 'coco' / 'images' / '000003.png').unlink()
    raw['run_dir'] = str(tmp_path / 'run2')
    (tmp_path / 'bad.yaml').write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    assert main(['train', '--config', str(tmp_path / 'bad.yaml')]) == 2
    err = capsys.readouterr().err
    assert '000003.png not found' in err and 'Traceback' not in err
