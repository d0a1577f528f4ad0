"""Checkpoints: safetensors + metadata, hash verification, strict model match."""
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from ladon_ros.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from ladon_ros.models import build_model


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ck') / 'ladon_small.safetensors'
    save_checkpoint(build_model('ladon_small').eval(), path, rate_point=2.5, notes='test')
    return path


def test_round_trip_gives_identical_bytes(ckpt):
    model, meta = load_checkpoint(ckpt)
    again, _ = load_checkpoint(ckpt)
    assert meta.rate_point == 2.5 and meta.model_id == 'ladon_small' and len(meta.short_hash) == 16
    assert meta.notes == 'test'
    x = torch.randn(1, 3, *meta.input_size)
    a = model.robot_side().compress(x)['strings'][0][0]
    b = again.robot_side().compress(x)['strings'][0][0]
    assert a == b and len(a) > 0


def test_tampered_weights_are_refused(ckpt, tmp_path):
    state = load_file(str(ckpt))
    from safetensors import safe_open
    with safe_open(str(ckpt), framework='pt') as f:
        metadata = f.metadata()
    key = next(k for k in state if k.endswith('encoder.0.weight'))
    state[key] = state[key] + 1e-3
    bad = tmp_path / 'tampered.safetensors'
    save_file(state, str(bad), metadata=metadata)
    with pytest.raises(CheckpointError, match='hash mismatch'):
        load_checkpoint(bad)


def test_wrong_model_and_pickle_files_are_refused(ckpt, tmp_path):
    with pytest.raises(CheckpointError, match='expected'):
        load_checkpoint(ckpt, expect_model='ladon_resnet50')
    pt = tmp_path / 'evil.pt'
    pt.write_bytes(b'\x80\x04K\x01.')
    with pytest.raises(CheckpointError, match='only .safetensors'):
        load_checkpoint(pt)
    disguised = tmp_path / 'evil.safetensors'
    disguised.write_bytes(b'\x80\x04K\x01.' * 20)
    with pytest.raises(CheckpointError):
        load_checkpoint(disguised)


def test_metadata_is_validated(ckpt, tmp_path):
    meta = read_metadata(ckpt)
    d = json.loads(meta.to_json())
    d['classes']['detection'] = ['only_one']
    bad = tmp_path / 'badmeta.safetensors'
    save_file({'x': torch.zeros(1)}, str(bad), metadata={'ladon_ros': json.dumps(d)})
    with pytest.raises(CheckpointError, match='invalid metadata'):
        read_metadata(bad)


# --- each metadata rule and each load/save step on its own --------------------------------------

import dataclasses  # noqa: E402
import hashlib  # noqa: E402

from ladon_ros.checkpoint import MAX_INPUT_SIDE, CheckpointMeta, weights_hash  # noqa: E402
from ladon_ros.tasks import TaskClasses  # noqa: E402


def _meta_json(ckpt, **change) -> str:
    d = json.loads(read_metadata(ckpt).to_json())
    d.update(change)
    return json.dumps(d)


@pytest.mark.parametrize('change, ok', [
    (dict(input_size=[16, 16]), True), (dict(input_size=[15, 64]), False), (dict(input_size=[64, 15]), False),
    (dict(input_size=[MAX_INPUT_SIDE, MAX_INPUT_SIDE]), True), (dict(input_size=[MAX_INPUT_SIDE + 1, 64]), False),
    (dict(input_size=[64, 64, 3]), False),
    (dict(model_id=''), False), (dict(model_id=5), False),
    (dict(kind='teacher'), True), (dict(kind='ladon'), True), (dict(kind='Ladon'), False),
    (dict(rate_point=0.0), True), (dict(rate_point=0.5), True), (dict(rate_point=-0.1), False),
    (dict(mean=[0.5, 0.5]), False), (dict(std=[0.2, 0.2]), False), (dict(std=[0.2, 0.2, 1e-9]), True),
    (dict(std=[0.2, 0.2, float('inf')]), False),
    (dict(weights_hash='a' * 63), False), (dict(weights_hash='A' * 64), False), (dict(weights_hash='g' * 64), False),
    (dict(weights_hash='0123456789abcdef' * 4), True), (dict(notes=5), False), (dict(notes=''), True),
])
def test_each_metadata_rule(ckpt, change, ok):
    text = _meta_json(ckpt, **change)
    if ok:
        meta = CheckpointMeta.from_json(text)
        for k, v in change.items():
            assert getattr(meta, k) == (tuple(v) if isinstance(v, list) else v)
    else:
        with pytest.raises(CheckpointError, match='invalid'):
            CheckpointMeta.from_json(text)


def test_metadata_without_format_is_refused(ckpt):
    d = json.loads(read_metadata(ckpt).to_json())
    del d['format']
    with pytest.raises(CheckpointError, match='not of format'):
        CheckpointMeta.from_json(json.dumps(d))


def test_metadata_text_is_canonical(ckpt):
    text = read_metadata(ckpt).to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True)
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_weights_hash_covers_names_dtypes_shapes_and_bytes():
    empty = hashlib.sha256(b'e|torch.float32|(0,)|').hexdigest()
    assert weights_hash({'e': torch.zeros(0)}) == empty
    one = hashlib.sha256(b'a|torch.float32|(1,)|' + torch.ones(1).numpy().tobytes()).hexdigest()
    assert weights_hash({'a': torch.ones(1)}) == one
    base = weights_hash({'a': torch.ones(2)})
    for other in ({'b': torch.ones(2)}, {'a': torch.ones(2, dtype=torch.float64)}, {'a': torch.ones(1, 2)},
                  {'a': torch.tensor([1.0, 2.0])}):
        assert weights_hash(other) != base


def test_save_defaults_nested_folders_and_stored_tables(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / 'a' / 'b' / 'ladon_small.safetensors'
    meta = save_checkpoint(build_model('ladon_small').eval(), path)
    assert path.is_file() and meta.rate_point == 0.0 and meta.notes == '' and meta.kind == 'ladon'
    assert read_metadata(path) == meta
    state = load_file(str(path))
    assert state['bottleneck.entropy_bottleneck._quantized_cdf'].numel() > 0  # tables built before saving


def test_tables_are_rebuilt_from_the_current_quantiles_unless_asked_not_to(tmp_path):
    torch.manual_seed(0)
    model = build_model('ladon_small').eval()
    model.update(force=True)
    with torch.no_grad():
        model.bottleneck.entropy_bottleneck.quantiles.mul_(3.0)
    save_checkpoint(model, tmp_path / 'kept.safetensors', rebuild_tables=False)
    save_checkpoint(model, tmp_path / 'rebuilt.safetensors')
    key = 'bottleneck.entropy_bottleneck._quantized_cdf'
    kept, rebuilt = load_file(str(tmp_path / 'kept.safetensors'))[key], load_file(str(tmp_path / 'rebuilt.safetensors'))[key]
    assert kept.shape != rebuilt.shape or not torch.equal(kept, rebuilt)


def test_loaded_model_takes_classes_and_input_size_from_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    default = build_model('ladon_small').spec.classes
    classes = TaskClasses(*(tuple(f'{task}_{i}' for i in range(len(names)))
                            for task, names in (('c', default.classification), ('d', default.detection),
                                                ('s', default.segmentation))))
    model = build_model('ladon_small', classes=classes, input_size=(96, 160)).eval()
    save_checkpoint(model, tmp_path / 'x.safetensors')
    loaded, meta = load_checkpoint(tmp_path / 'x.safetensors')
    assert meta.classes == classes and meta.input_size == (96, 160)
    assert loaded.spec.classes == classes and tuple(loaded.spec.input_size) == (96, 160)


def test_teacher_round_trip(tmp_path):
    torch.manual_seed(0)
    teacher = build_model('teacher_small').eval()
    save_checkpoint(teacher, tmp_path / 't.safetensors')
    loaded, meta = load_checkpoint(tmp_path / 't.safetensors')
    assert meta.kind == 'teacher' and meta.rate_point == 0.0
    x = torch.randn(1, 3, *meta.input_size)
    with torch.no_grad():
        assert torch.equal(loaded.infer(x, ('classification',)).classification,
                           teacher.infer(x, ('classification',)).classification)


@pytest.mark.parametrize('edit', ['drop', 'add'])
def test_weights_that_do_not_fit_the_model_are_refused_even_with_a_matching_hash(ckpt, tmp_path, edit):
    state = load_file(str(ckpt))
    if edit == 'drop':
        del state[next(k for k in state if k.endswith('encoder.0.weight'))]
    else:
        state['surprise.weight'] = torch.zeros(3)
    meta = dataclasses.replace(read_metadata(ckpt), weights_hash=weights_hash(state))
    path = tmp_path / f'{edit}.safetensors'
    save_file(state, str(path), metadata={'ladon_ros': meta.to_json()})
    with pytest.raises(CheckpointError, match='do not fit'):
        load_checkpoint(path)


def test_hash_mismatch_names_both_prefixes(ckpt, tmp_path):
    state = load_file(str(ckpt))
    key = next(k for k in state if k.endswith('encoder.0.weight'))
    state[key] = state[key] + 1.0
    meta = read_metadata(ckpt)
    path = tmp_path / 'tampered.safetensors'
    save_file(state, str(path), metadata={'ladon_ros': meta.to_json()})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert f'says {meta.weights_hash[:16]}, tensors hash to {weights_hash(state)[:16]}' in str(err.value)
    assert str(err.value).endswith(weights_hash(state)[:16])


def test_unknown_model_and_kind_mismatch_are_refused(ckpt, tmp_path):
    state = load_file(str(ckpt))
    for change, message in ((dict(model_id='no_such_model'), 'no_such_model'), (dict(kind='teacher'), 'kind')):
        meta = dataclasses.replace(read_metadata(ckpt), **change)
        path = tmp_path / 'm.safetensors'
        save_file(state, str(path), metadata={'ladon_ros': meta.to_json()})
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)


def test_hash_digits_notes_and_unreadable_tensors(ckpt, monkeypatch):
    with pytest.raises(CheckpointError, match='not a hex SHA-256'):
        CheckpointMeta.from_json(_meta_json(ckpt, weights_hash='X' * 64))
    with pytest.raises(CheckpointError, match='^invalid metadata: notes must be text$'):
        CheckpointMeta.from_json(_meta_json(ckpt, notes=5))
    assert read_metadata(ckpt).notes == 'test'
    import safetensors.torch  # imported by load_checkpoint when called (reading metadata needs no torch)

    def broken(*args, **kwargs):
        raise OSError('disk gone')
    monkeypatch.setattr(safetensors.torch, 'load_file', broken)
    with pytest.raises(CheckpointError, match=f'^cannot read tensors of {ckpt}: disk gone$'):
        load_checkpoint(ckpt)
