"""Datasets in standard formats: export -> loaders read back the world exactly; bad data is
refused naming the file; the training config's data sections and the run's classes."""
import json

import numpy as np
import pytest
from PIL import Image

from ladon_ros.data.dataset import SceneDataset
from ladon_ros.data.export import export_dataset, voc_palette
from ladon_ros.data.formats import IGNORE_INDEX, DataError, open_dataset
from ladon_ros.data.source import DataSource
from ladon_ros.world import CLASSES, SceneGenerator
from ladon_ros.train.config import parse_config
from ladon_ros.train.data import RunData, check_run_dir_classes

SIZE, SEED, N = (64, 96), 5, 6
_STAGES = {'teacher': {'steps': 1, 'lr': 1e-3}, 'stage1': {'steps': 1, 'lr': 1e-3},
           'stage2': {'steps': 1, 'lr': 1e-3}, 'heads': {'steps': 1, 'lr': 1e-3}}


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp('export')
    for fmt in ('coco', 'voc', 'imagefolder'):
        export_dataset(fmt, root / fmt, count=N, seed=SEED, image_size=SIZE)
    return root


def _open(fmt, path, size=SIZE):
    return open_dataset(DataSource(format=fmt, path=str(path)), size)


def test_loaders_read_back_the_world(exported):
    gen = SceneGenerator(image_size=SIZE, seed=SEED)
    world = [gen.sample(i) for i in range(N)]
    coco, voc = _open('coco', exported / 'coco'), _open('voc', exported / 'voc')
    folders, images = _open('imagefolder', exported / 'imagefolder'), _open('images', exported / 'coco')
    assert coco.tasks == ('classification', 'detection', 'segmentation') and voc.tasks == ('segmentation',)
    assert folders.tasks == ('classification',) and images.tasks == ()
    assert coco.classes == {t: CLASSES.for_task(t) for t in ('classification', 'detection', 'segmentation')}
    assert voc.classes == {'segmentation': CLASSES.segmentation}
    assert folders.classes == {'classification': CLASSES.classification}  # classes.txt keeps the ids
    assert len(coco) == len(voc) == len(folders) == len(images) == N
    for i, s in enumerate(world):
        image, t = coco.sample(i)
        assert np.array_equal(image, s.image) and t['scene'] == s.scene_class
        assert np.array_equal(t['boxes'], s.boxes) and np.array_equal(t['labels'], s.box_labels)
        assert np.array_equal(t['seg'], s.seg)  # instance + crowd masks render the map exactly
        image, t = voc.sample(i)
        assert np.array_equal(image, s.image) and np.array_equal(t['seg'], s.seg)
        assert np.array_equal(images.sample(i)[0], s.image)
    for path, label in folders.folder.samples:
        s = world[int(path.rsplit('/', 1)[1][:6])]
        assert label == s.scene_class
    # The tensors are what the built-in loader gives for the same scenes.
    builtin = SceneDataset(length=N, image_size=SIZE, seed=SEED)
    for i in (0, N - 1):
        (x, t), (x0, t0) = coco[i], builtin[i]
        assert torch_equal(x, x0) and t.keys() == t0.keys() and all(torch_equal(t[k], t0[k]) for k in t)


def torch_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all())


def test_other_input_size_scales_targets(exported):
    coco = _open('coco', exported / 'coco', size=(32, 48))
    s = SceneGenerator(image_size=SIZE, seed=SEED).sample(1)
    image, t = coco.sample(1)
    assert image.shape == (32, 48, 3) and t['seg'].shape == (32, 48)
    assert np.allclose(t['boxes'], s.boxes / 2)


def test_export_cli_and_refusals(tmp_path):
    from ladon_ros.cli import main
    out = tmp_path / 'voc'
    assert main(['export-dataset', '--format', 'voc', '--out', str(out), '--count', '2', '--size', '48x64',
                 '--image-format', 'jpeg']) == 0
    assert sorted(p.name for p in (out / 'JPEGImages').iterdir()) == ['000000.jpg', '000001.jpg']
    with Image.open(out / 'SegmentationClass' / '000000.png') as m:
        assert m.mode == 'P' and m.size == (64, 48)
    assert main(['export-dataset', '--format', 'voc', '--out', str(out), '--count', '2']) == 2  # not empty


def _coco(exported, tmp_path, edit):
    """A copy of the exported COCO set with ``edit(doc, folder)`` applied."""
    import shutil
    d = tmp_path / 'coco'
    shutil.copytree(exported / 'coco', d)
    doc = json.loads((d / 'annotations.json').read_text())
    edit(doc, d)
    (d / 'annotations.json').write_text(json.dumps(doc))
    return d


def _first_box(doc):
    return next(a for a in doc['annotations'] if not a['iscrowd'])


@pytest.mark.parametrize('edit, words', [
    (lambda doc, d: (d / 'images' / '000002.png').unlink(), ['000002.png', 'not found']),
    (lambda doc, d: _first_box(doc).update(bbox=[90.0, 50.0, 20.0, 20.0]), ['annotations.json', 'outside']),
    (lambda doc, d: _first_box(doc).update(category_id=99), ['annotations.json', 'unknown category_id 99']),
    (lambda doc, d: _first_box(doc)['segmentation'].update(size=[32, 32]), ['annotations.json', 'mask of size']),
    (lambda doc, d: doc.update(images=[], annotations=[]), ['annotations.json', 'empty dataset']),
    (lambda doc, d: doc['images'][0].update(scene_category_id=42), ['annotations.json', 'scene_category_id 42']),
    (lambda doc, d: Image.new('RGB', (10, 10)).save(d / 'images' / '000001.png'), ['000001.png', '10x10']),
])
def test_bad_coco_is_refused_naming_the_file(exported, tmp_path, edit, words):
    d = _coco(exported, tmp_path, edit)
    with pytest.raises(DataError) as err:
        _open('coco', d)
    assert all(w in str(err.value) for w in words), str(err.value)


def _mask(ids, path):
    m = Image.fromarray(ids, mode='P')
    m.putpalette(voc_palette())  # a full palette: PIL would renumber the ids of a partial one
    m.save(path)


def test_bad_voc_and_folders_are_refused_naming_the_file(exported, tmp_path):
    import shutil
    voc = tmp_path / 'voc'
    shutil.copytree(exported / 'voc', voc)
    Image.new('P', (20, 10)).save(voc / 'SegmentationClass' / '000003.png')
    with pytest.raises(DataError, match='000003.png: mask is 20x10'):
        _open('voc', voc)
    _mask(np.full(SIZE, 9, np.uint8), voc / 'SegmentationClass' / '000003.png')
    ds = _open('voc', voc)
    with pytest.raises(DataError, match='000003.png: class id 9'):
        ds.sample(3)
    _mask(np.full(SIZE, 255, np.uint8), voc / 'SegmentationClass' / '000003.png')
    assert (ds.sample(3)[1]['seg'] == IGNORE_INDEX).all()  # VOC's void: no loss
    (voc / 'JPEGImages' / '000001.png').unlink()
    with pytest.raises(DataError, match='000001.jpg: image not found'):
        _open('voc', voc)
    (voc / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('')
    with pytest.raises(DataError, match='empty dataset'):
        _open('voc', voc)
    (tmp_path / 'none' / 'a').mkdir(parents=True)
    for fmt in ('images', 'imagefolder'):
        with pytest.raises(DataError, match='empty dataset'):
            _open(fmt, tmp_path / 'none')
    (tmp_path / 'none' / 'a' / 'x.png').write_bytes(b'not a png')
    with pytest.raises(DataError, match='x.png: not a readable image'):
        _open('images', tmp_path / 'none').sample(0)


def test_data_sections_parse_and_check():
    cfg = parse_config({**_STAGES, 'stage1': {'steps': 1, 'lr': 1e-3, 'data': [{'format': 'images', 'path': '/x'}]}})
    assert cfg.stage1.data == (DataSource(format='images', path='/x'),) and cfg.teacher.data == ()
    for bad, key in [({'format': 'tfrecord', 'path': '/x'}, 'format'), ({'format': 'coco'}, 'path'),
                     ({'format': 'coco', 'path': '/x', 'count': 3}, 'count'), ({'format': 'synthetic', 'path': '/x'},
                                                                               'path')]:
        with pytest.raises(ValueError, match=f'heads.data\\[0\\].{key}'):
            parse_config({**_STAGES, 'heads': {'steps': 1, 'lr': 1e-3, 'data': [bad]}})


def _cfg(**stage_data):
    raw = {k: dict(v) for k, v in _STAGES.items()}
    for stage, data in stage_data.items():
        raw[stage]['data'] = data
    return parse_config(raw)


def test_stage_needs_and_classes_across_datasets(exported, tmp_path):
    coco = {'format': 'coco', 'path': str(exported / 'coco')}
    voc = {'format': 'voc', 'path': str(exported / 'voc')}
    folders = {'format': 'imagefolder', 'path': str(exported / 'imagefolder')}
    run = RunData(_cfg(teacher=[folders, voc, coco], stage1=[{'format': 'images', 'path': str(exported / 'voc')}],
                       heads=[voc, coco]), (128, 128), (128, 128))
    assert run.classes() == CLASSES
    batches = run.batches('teacher', 'cpu')(0)
    assert [b.tasks for b in batches] == [('classification',), ('segmentation',), ('classification', 'detection',
                                                                                   'segmentation')]
    assert batches[0].x.shape == (16, 3, 128, 128) and set(batches[1].targets[0]) == {'seg'}
    with pytest.raises(DataError, match="no dataset labels \\['detection'\\].*imagefolder:"):
        RunData(_cfg(teacher=[folders, voc]), (128, 128), (128, 128))
    with pytest.raises(DataError, match="heads.data: no dataset labels \\['detection', 'segmentation'\\]"):
        RunData(_cfg(heads=[folders]), (128, 128), (128, 128))
    # Another dataset with other class names (same ids) disagrees with the teacher's.
    renamed = tmp_path / 'voc2'
    import shutil
    shutil.copytree(exported / 'voc', renamed)
    (renamed / 'labels.txt').write_text('background\npallet\ndrum\ncone\nperson\nsign\n')
    run = RunData(_cfg(teacher=[coco], heads=[{'format': 'voc', 'path': str(renamed)}, coco]), (128, 128), (128, 128))
    with pytest.raises(DataError, match=r"heads.data voc:.*voc2: segmentation classes \['background', 'pallet'.*"
                                        r"disagree with teacher.data coco:"):
        run.classes()
    # The renamed set for the teacher: its names become the run's; the run folder remembers them.
    run = RunData(_cfg(teacher=[{'format': 'voc', 'path': str(renamed)}, coco]), (128, 128), (128, 128))
    with pytest.raises(DataError, match='pallet'):  # the COCO set of the same teacher says crate
        run.classes()
    one = tmp_path / 'one'
    (one / 'yard').mkdir(parents=True)
    Image.new('RGB', (8, 8)).save(one / 'yard' / 'a.png')
    run = RunData(_cfg(teacher=[{'format': 'imagefolder', 'path': str(one)}, voc, coco]), (128, 128), (128, 128))
    with pytest.raises(DataError, match=r"classification needs at least 2 classes, got \['yard'\]"):
        run.classes()
    check_run_dir_classes(tmp_path / 'run', CLASSES)
    check_run_dir_classes(tmp_path / 'run', CLASSES)
    other = CLASSES.__class__(CLASSES.classification, CLASSES.detection, ('background', 'a', 'b', 'c', 'd', 'e'))
    with pytest.raises(DataError, match='classes.json: this run folder was trained on other classes'):
        check_run_dir_classes(tmp_path / 'run', other)


def test_a_finite_set_is_read_once_per_epoch_in_a_seeded_order(exported):
    images = {'format': 'images', 'path': str(exported / 'coco')}
    cfg = parse_config({**_STAGES, 'stage1': {'steps': 1, 'lr': 1e-3, 'batch_size': 3, 'data': [images]}})
    ds = _open('images', exported / 'coco', size=(128, 128))
    items = [ds[i][0] for i in range(N)]

    def epochs(run):
        b = run.batches('stage1', 'cpu')
        xs = [x for step in range(2 * N // 3) for x in b.images(step)]
        return [[next(i for i, it in enumerate(items) if torch_equal(x, it)) for x in xs[e * N:(e + 1) * N]]
                for e in range(2)]

    first, second = epochs(RunData(cfg, (128, 128), (128, 128)))
    assert sorted(first) == sorted(second) == list(range(N)) and first != second
    assert epochs(RunData(cfg, (128, 128), (128, 128))) == [first, second]  # a rerun or resume: the same
