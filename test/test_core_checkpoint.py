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
