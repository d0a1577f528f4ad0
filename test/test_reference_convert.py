"""``ladon-ros convert-checkpoint`` on files written the way the authors' training writes them."""
import argparse
import pathlib

import pytest
import torch
from torchdistill.common.main_util import save_ckpt

from reference_models import classification_model, detection_model, segmentation_model
from ladon_ros.checkpoint import load_checkpoint, read_metadata
from ladon_ros.cli import main
from ladon_ros.reference.authors_ckpt import load_authors_state_dict
from ladon_ros.reference.keymap import ConversionError


def _save_like_torchdistill(model, path):
    # torchdistill's save_ckpt: {'model', 'optimizer', 'best_value', 'lr_scheduler', 'args': Namespace}.
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad][:1], lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[5, 10])
    save_ckpt(model, opt, sched, 0.5, argparse.Namespace(config=str(path), seed=None), str(path))


@pytest.fixture(scope='module')
def authors_files(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp('authors')
    ref_cls = classification_model(seed=3)
    files = {
        'classification': d / 'ilsvrc2012-splittable_resnet50-fp-beta0.32_from_resnet50.pt',
        'detection': d / 'coco2017-faster_rcnn_splittable_resnet50-fp-beta0.32_fpn.pt',
        'segmentation': d / 'pascal_voc2012-deeplabv3_splittable_resnet50-fp-beta0.32.pt',
    }
    _save_like_torchdistill(ref_cls, files['classification'])
    _save_like_torchdistill(detection_model(ref_cls, 416), files['detection'])
    _save_like_torchdistill(segmentation_model(ref_cls), files['segmentation'])
    return ref_cls, files, d


@torch.no_grad()
def test_convert_cli_roundtrip(authors_files, capsys):
    ref_cls, files, d = authors_files
    out = d / 'ladon_resnet50_beta0.32.safetensors'
    rc = main(['convert-checkpoint', '--classification', str(files['classification']), '--detection',
               str(files['detection']), '--segmentation', str(files['segmentation']), '--out', str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert 'as stored in the files' in printed and 'WARNING' not in printed
    meta = read_metadata(out)
    assert meta.model_id == 'ladon_resnet50' and meta.kind == 'ladon' and meta.rate_point == 0.32
    assert len(meta.classes.classification) == 1000 and meta.classes.classification[0] == 'tench'
    assert len(meta.classes.detection) == 91 and meta.classes.detection[1] == 'person'
    assert len(meta.classes.segmentation) == 21 and meta.classes.segmentation[15] == 'person'
    net, meta2 = load_checkpoint(out)
    assert meta2.weights_hash == meta.weights_hash
    # The stored entropy tables are the authors' (not rebuilt), and outputs are bit-identical.
    eb_ref, eb = ref_cls.bottleneck_layer.entropy_bottleneck, net.bottleneck.entropy_bottleneck
    assert torch.equal(eb_ref._quantized_cdf, eb._quantized_cdf)
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(7))
    enc = net.robot_side().compress(x)
    assert enc['strings'][0] == ref_cls.bottleneck_layer.encode(x)['strings'][0]
    body = net.tail.body(net.edge_side().decompress(enc['strings'], enc['shape']))
    assert torch.equal(ref_cls(x), net.tail.heads.classification(body))


def test_weights_only_refuses_pickled_code(tmp_path):
    path = tmp_path / 'evil.pt'
    torch.save({'model': {'fc.weight': torch.zeros(2)}, 'payload': pathlib.PurePosixPath('x')}, str(path))
    with pytest.raises(ConversionError, match='weights-only'):
        load_authors_state_dict(path)


def test_refuses_mismatched_files(authors_files, tmp_path):
    _, files, _ = authors_files
    with pytest.raises(ConversionError, match='detection'):
        # The classification file given as the detection file: wrong layout.
        from ladon_ros.reference.convert import convert_authors_checkpoints
        convert_authors_checkpoints(classification=files['classification'], detection=files['classification'],
                                    segmentation=files['segmentation'], out=tmp_path / 'x.safetensors')
