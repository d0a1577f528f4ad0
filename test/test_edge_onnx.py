"""The ONNX Runtime edge (ladon_ros.edge.onnx_backend) against torch on the shipped checkpoints.

Bounds (measured on 24 synthetic scenes, seed 99, none of them the int8 calibration's):
fp32: every top-1 class equal, the same number of detections with IoU >= 0.99 to torch's of
the same class, >= 99.99 % of label-map pixels equal (measured: 1.0, 0 differing counts,
IoU >= 0.99999, >= 0.999997). int8 body: top-1 >= 90 % equal, >= 99 % of pixels, >= 95 % of
torch's detections matched at IoU 0.5 (measured: 100 %, >= 99.8 %, >= 98.5 %).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge_agreement import agreement
from ladon_ros.camera import make_camera_encoder
from ladon_ros.checkpoint import read_metadata
from ladon_ros.world import SceneGenerator
from ladon_ros.edge import EdgePerception
from ladon_ros.edge.bundle import SHIPPED_EDGE_DIR, edge_bundle_for
from ladon_ros.weights import shipped_checkpoints

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = shipped_checkpoints()


@pytest.fixture(scope='module')
def images():
    gen = SceneGenerator(image_size=(128, 128), seed=99)
    return [gen.sample(i).image for i in range(24)]


def _edges(path, meta, **kwargs):
    args = ([path],) if meta.kind == 'ladon' else ([], path)
    # No decode deadline: a loaded test machine once took 3.6 s for one decode.
    return EdgePerception.from_checkpoints(*args, decode_timeout_ms=1e9, **kwargs)


def _frames(path, meta, images):
    cam = make_camera_encoder(codec='ladon' if meta.kind == 'ladon' else 'png', quality=3, checkpoint=path)
    return [cam.encode(i) for i in images]


def test_every_shipped_checkpoint_has_its_edge_bundle():
    # A retrained checkpoint without a re-export fails here: `ladon-ros export --edge --shipped --int8`.
    assert SHIPPED
    for path, meta in SHIPPED:
        folder = edge_bundle_for(path, meta)
        assert folder == SHIPPED_EDGE_DIR / path.stem, f'{path.name}: no edge bundle for its weights'
        assert (folder / 'body_int8.onnx').is_file()


@pytest.mark.parametrize('path, meta', SHIPPED, ids=[p.stem for p, _ in SHIPPED])
def test_onnx_agrees_with_torch(path, meta, images):
    frames = _frames(path, meta, images)
    ref = _edges(path, meta, backend='torch')
    fp32 = _edges(path, meta, backend='onnx')
    int8 = _edges(path, meta, backend='onnx', int8=True)
    assert set(fp32.engines.values()) == {'onnx'} and set(int8.engines.values()) == {'onnx-int8'}
    want = [ref.process(f) for f in frames]
    a = agreement(want, [fp32.process(f) for f in frames])
    assert a.detections > 50, a  # the scenes have objects to find
    assert a.top1 == 1.0 and a.count_diff == 0 and a.min_iou >= 0.99 and a.mask >= 0.9999, a
    q = agreement(want, [int8.process(f) for f in frames])
    assert q.top1 >= 0.9 and q.mask >= 0.99 and q.matched >= 0.95, q
    print(path.stem, 'fp32', a, 'int8', q)


def test_a_checkpoint_without_a_bundle_falls_back_to_torch_with_a_warning(tmp_path):
    path, meta = next((p, m) for p, m in SHIPPED if m.kind == 'ladon')
    copy = tmp_path / 'mine.safetensors'
    shutil.copy(path, copy)  # same weights, but no bundle named after it
    warnings = []
    edge = EdgePerception.from_checkpoints([copy], backend='onnx', warn=warnings.append)
    assert edge.engines == {meta.short_hash: 'torch'}
    assert len(warnings) == 1 and 'falling back to the torch back end' in warnings[0]


def test_a_bundle_of_other_weights_is_not_used(tmp_path):
    (b1, m1), (b4, _) = [(p, m) for p, m in SHIPPED if m.kind == 'ladon'][1:3]
    shutil.copytree(SHIPPED_EDGE_DIR / b4.stem, tmp_path / b1.stem)  # b4's graphs under b1's name
    assert edge_bundle_for(b1, read_metadata(b1), tmp_path) is None
    warnings = []
    edge = EdgePerception.from_checkpoints([b1], backend='onnx', bundles=tmp_path, warn=warnings.append)
    assert edge.engines == {m1.short_hash: 'torch'} and warnings


def test_only_the_wanted_heads_run(images):
    path, meta = next((p, m) for p, m in SHIPPED if m.kind == 'ladon')
    edge = _edges(path, meta, backend='onnx')
    frames = [edge.prepare(f) for f in _frames(path, meta, images[:3])]
    full = edge.infer(frames)
    got = edge.infer(frames, wants=[('classification',), ('detection', 'segmentation'), ()])
    assert got[0].classification == full[0].classification and not got[0].detections
    assert not got[0].segmentation.any() and set(got[0].timings_ms) == {'decode', 'heads', 'network',
                                                                         'classification'}
    assert not got[1].classification and got[1].detections == full[1].detections
    assert (got[1].segmentation == full[1].segmentation).all()
    assert not got[2].classification and not got[2].detections and set(got[2].timings_ms) == {'decode', 'heads'}
    assert got[2].timings_ms['heads'] == 0.0


def test_the_onnx_edge_runs_without_torch():
    # The shipped rate points and the teacher, a Ladon frame and a PNG frame, torch blocked.
    script = textwrap.dedent('''
        import importlib.abc, sys
        class NoTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('torch', 'torchvision'):
                    raise ModuleNotFoundError(f'{name} is blocked', name=name)
        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        from ladon_ros.camera import make_camera_encoder
        from ladon_ros.edge import EdgePerception
        from ladon_ros.weights import ladon_rate_points, shipped_camera_bundle, default_checkpoint
        points = [str(p) for p, _ in ladon_rate_points()]
        edge = EdgePerception.from_checkpoints(points, default_checkpoint('teacher'), backend='onnx')
        assert set(edge.engines.values()) == {'onnx'}, edge.engines
        rgb = np.random.default_rng(0).integers(0, 255, (96, 160, 3), np.uint8)
        ladon = make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=shipped_camera_bundle())
        png = make_camera_encoder(codec='png', quality=3, backend='onnx', onnx_dir=shipped_camera_bundle())
        for cam in (ladon, png):
            r = edge.process(cam.encode(rgb))
            assert r.segmentation.shape == (96, 160) and r.classification
        assert 'torch' not in sys.modules
        print('ok')
    ''')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith('ok'), out.stderr[-3000:]


def test_eval_measures_the_int8_edge_within_bounds_of_torch():
    # ladon-ros eval --edge-engine onnx-int8: the same scenes, bytes and metrics code. Measured
    # on these 16 scenes (b1 + teacher): fp32 equal to torch in every metric; int8 top-1 equal,
    # mAP +0.002, mIoU -0.001 (Ladon), mAP +0.001 (teacher).
    from ladon_ros.eval.study import Study
    from ladon_ros.weights import WEIGHTS_DIR
    b1, teacher = WEIGHTS_DIR / 'ladon_small_b1.safetensors', WEIGHTS_DIR / 'teacher_small.safetensors'
    got = {}
    for engine in ('torch', 'onnx-int8'):
        study = Study(ladon=[b1], teacher=teacher, scenes=16, seed=0, engine=engine)
        got[engine] = [study.run('ladon', 1.0), study.run('teacher')]
    for ref, q in zip(got['torch'], got['onnx-int8']):
        assert q.bytes_per_frame == ref.bytes_per_frame  # the camera side is the same
        assert abs(q.top1 - ref.top1) <= 0.07 and abs(q.map - ref.map) <= 0.03 and abs(q.miou - ref.miou) <= 0.02, \
            (ref, q)
