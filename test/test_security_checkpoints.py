"""Untrusted checkpoint files: refused with a clear error, and nothing in them is ever executed.

Also scans (via the AST) every Python file of the repository for ``torch.load`` calls without
``weights_only=True`` and for other unpickling calls.
"""
from __future__ import annotations

import ast
import json
import pickle
import struct
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ladon_ros.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from ladon_ros.models import build_model
from pickle_payload import Payload

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ck') / 'ladon_small.safetensors'
    save_checkpoint(build_model('ladon_small').eval(), path, rate_point=1.0)
    return path


def _state_and_meta(path):
    with safe_open(str(path), framework='pt') as f:
        metadata = f.metadata()
    return load_file(str(path)), metadata


@pytest.mark.parametrize('name', ['evil.pt', 'evil.pth', 'evil.ckpt', 'evil.bin', 'evil.pkl',
                                  'evil.safetensors', 'torch_zip.safetensors'])
def test_pickle_files_are_refused_and_never_executed(tmp_path, name):
    marker = tmp_path / 'marker.txt'
    path = tmp_path / name
    if name.startswith('torch_zip'):
        torch.save({'w': torch.zeros(2), 'evil': Payload(marker)}, path)  # torch's zip+pickle format
    else:
        path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        read_metadata(path)
    assert not marker.exists(), 'the pickle payload ran'
    text = str(err.value)
    assert ('only .safetensors' in text) if path.suffix != '.safetensors' else ('not a safetensors file' in text)


def test_hash_mismatch_is_refused(ckpt, tmp_path):
    state, metadata = _state_and_meta(ckpt)
    cases = {}
    tampered = dict(state)
    key = next(k for k in state if k.endswith('decoder.0.weight'))
    tampered[key] = tampered[key].clone()
    tampered[key].view(-1)[0] += 1.0
    cases['one weight changed'] = (tampered, metadata)
    extra = dict(state, **{'backdoor.weight': torch.ones(3)})
    cases['extra tensor'] = (extra, metadata)
    fewer = {k: v for k, v in state.items() if k != key}
    cases['missing tensor'] = (fewer, metadata)
    meta = json.loads(metadata['ladon_ros'])
    meta['weights_hash'] = 'f' * 64
    cases['metadata hash replaced'] = (state, {'ladon_ros': json.dumps(meta)})
    for i, (label, (st, md)) in enumerate(cases.items()):
        path = tmp_path / f'case{i}.safetensors'
        save_file(st, str(path), metadata=md)
        with pytest.raises(CheckpointError, match='weights hash mismatch') as err:
            load_checkpoint(path)
        assert 'metadata says' in str(err.value), label


def test_model_id_mismatch_is_refused(ckpt, tmp_path):
    with pytest.raises(CheckpointError, match="is for model 'ladon_small', expected 'teacher_small'"):
        load_checkpoint(ckpt, expect_model='teacher_small')
    state, metadata = _state_and_meta(ckpt)
    meta = json.loads(metadata['ladon_ros'])
    for model_id, kind, message in (('no_such_model', 'ladon', 'unknown model'),
                                    ('teacher_small', 'ladon', 'does not match model'),
                                    ('ladon_resnet50', 'ladon', 'do not fit model')):
        path = tmp_path / f'{model_id}.safetensors'
        save_file(state, str(path), metadata={'ladon_ros': json.dumps(dict(meta, model_id=model_id, kind=kind))})
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)


def test_corrupt_files_are_refused(ckpt, tmp_path):
    raw = ckpt.read_bytes()
    (header_len,) = struct.unpack('<Q', raw[:8])
    cases = {
        'empty': b'',
        'truncated header': raw[:20],
        'truncated tensors': raw[:len(raw) // 2],
        'random bytes': bytes(range(256)) * 16,
        'huge header length': struct.pack('<Q', 2 ** 62) + raw[8:],
        'header not JSON': struct.pack('<Q', 16) + b'{not json at all' + raw[24:],
        'tensor offsets past the end': raw[:8 + header_len] + raw[8 + header_len:][:100],
    }
    for label, data in cases.items():
        path = tmp_path / 'corrupt.safetensors'
        path.write_bytes(data)
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path)
        # Refused by the header check, before any tensor is read, and the file is named.
        assert f'{path} is not a safetensors file' in str(err.value), (label, str(err.value))
    with pytest.raises(CheckpointError, match='not found'):
        load_checkpoint(tmp_path / 'absent.safetensors')
    (tmp_path / 'dir.safetensors').mkdir()
    with pytest.raises(CheckpointError, match='not found'):
        load_checkpoint(tmp_path / 'dir.safetensors')


@pytest.mark.parametrize('change, message', [
    (lambda m: 'not json', 'not valid JSON'),
    (lambda m: json.dumps(dict(m, format='other/9')), 'not of format'),
    (lambda m: json.dumps({k: v for k, v in m.items() if k != 'classes'}), 'invalid metadata'),
    (lambda m: json.dumps(dict(m, surprise=1)), 'invalid metadata'),
    (lambda m: json.dumps(dict(m, input_size=[-5, 256])), 'invalid input_size'),
    (lambda m: json.dumps(dict(m, input_size=[100000, 100000])), 'invalid input_size'),
    (lambda m: json.dumps(dict(m, input_size='big')), 'invalid metadata'),
    (lambda m: json.dumps(dict(m, rate_point=float('nan'))), 'rate_point'),
    (lambda m: json.dumps(dict(m, rate_point=float('inf'))), 'rate_point'),
    (lambda m: json.dumps(dict(m, std=[0.2, 0.0, 0.2])), 'std > 0'),
    (lambda m: json.dumps(dict(m, mean=[0.5, float('nan'), 0.5])), 'finite'),
    (lambda m: json.dumps(dict(m, kind='trojan')), 'kind'),
    (lambda m: json.dumps(dict(m, weights_hash='../../etc/passwd')), 'hex SHA-256'),
    (lambda m: json.dumps(dict(m, classes={'classification': ['a']})), 'invalid metadata'),
    (lambda m: json.dumps([1, 2, 3]), 'not of format'),
])
def test_invalid_metadata_is_refused(ckpt, tmp_path, change, message):
    state, metadata = _state_and_meta(ckpt)
    meta = json.loads(metadata['ladon_ros'])
    path = tmp_path / 'meta.safetensors'
    save_file({'x': torch.zeros(1)}, str(path), metadata={'ladon_ros': change(meta)})
    with pytest.raises(CheckpointError, match=message):
        read_metadata(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_missing_metadata_block_is_refused(tmp_path):
    path = tmp_path / 'plain.safetensors'
    save_file({'x': torch.zeros(1)}, str(path))
    with pytest.raises(CheckpointError, match='no .ladon_ros. metadata'):
        load_checkpoint(path)


def _python_files() -> list[Path]:
    out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '*.py'], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split()
    return [REPO / p for p in out if (REPO / p).is_file()]


def _unsafe_loads(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, 'id', '')
        owner = getattr(f.value, 'id', '') if isinstance(f, ast.Attribute) else ''
        if name == 'load' and owner == 'torch':
            ok = any(k.arg == 'weights_only' and isinstance(k.value, ast.Constant) and k.value.value is True
                     for k in node.keywords)
            if not ok:
                found.append((node.lineno, 'torch.load without weights_only=True'))
        elif owner in ('pickle', 'cPickle', 'dill', 'joblib') and name in ('load', 'loads'):
            found.append((node.lineno, f'{owner}.{name}'))
        elif owner == 'numpy' or owner == 'np':
            if name == 'load' and any(k.arg == 'allow_pickle' and getattr(k.value, 'value', False) is True
                                      for k in node.keywords):
                found.append((node.lineno, 'np.load(allow_pickle=True)'))
    return found


def test_no_unpickling_anywhere_in_the_repository(capsys):
    files = _python_files()
    offenders = []
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
        except (SyntaxError, UnicodeDecodeError):
            continue  # a half-written file of a concurrent edit; its own tests will catch it
        if path.name == Path(__file__).name:
            continue  # this file pickles on purpose to build malicious fixtures
        offenders += [f'{path.relative_to(REPO)}:{line}: {what}' for line, what in _unsafe_loads(tree)]
    # The detector itself must find what it looks for.
    load = 'torch.load'  # built here so a plain grep of the repository does not flag this test
    assert _unsafe_loads(ast.parse(f'{load}(f)\n{load}(f, weights_only=False)\npickle.loads(b)'))
    assert not _unsafe_loads(ast.parse('torch.load(f, map_location="cpu", weights_only=True)'))
    with capsys.disabled():
        print(f'\n[security] scanned {len(files)} Python files for torch.load/pickle: {len(offenders)} offenders')
    assert not offenders, '\n'.join(offenders)
