"""The exported (ONNX) camera: same symbols and bytes as the torch camera, and no torch needed."""
import dataclasses
import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from ladon_ros.camera import make_camera_encoder
from ladon_ros.checkpoint import save_checkpoint
from ladon_ros.cli import main
from ladon_ros.codec import bitstream
from ladon_ros.codec.preprocess import resize_rgb
from ladon_ros.world import SceneGenerator
from ladon_ros.edge import EdgePerception
from ladon_ros.codec.latent.quantize import ATOL, quantize
from ladon_ros.codec.latent.rans import decode_symbols
from ladon_ros.codec.latent.tables import EntropyTables
from ladon_ros.models import build_model


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp('onnx')
    model = build_model('ladon_small').eval()
    with torch.no_grad():
        # Random weights give a latent within +-1; scaled up it spans many integers, so many
        # values fall near rounding boundaries (what trained latents do).
        model.bottleneck.encoder[-1].weight.mul_(20.0)
    ckpt = d / 'ladon_small.safetensors'
    save_checkpoint(model, ckpt, rate_point=2.0)
    assert main(['export', '--model', 'ladon_small', '--checkpoint', str(ckpt), '--out', str(d / 'bundle')]) == 0
    torch_cam = make_camera_encoder(codec='ladon', checkpoint=ckpt)
    onnx_cam = make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=d / 'bundle')
    return ckpt, d / 'bundle', torch_cam, onnx_cam


def _images(size_hw, n, seed):
    rng = np.random.default_rng(seed)
    out = [rng.integers(0, 256, (*size_hw, 3), dtype=np.uint8) for _ in range(n)]
    gen = SceneGenerator(image_size=size_hw, seed=seed)
    out += [gen.sample(i).image for i in range(n)]
    return out


def test_bundle_contents(exported):
    _, bundle, torch_cam, onnx_cam = exported
    info = json.loads((bundle / 'camera.json').read_text())
    assert info['model_id'] == 'ladon_small' and info['weights_hash'] == torch_cam.identity.weights_hash
    small = np.zeros((*onnx_cam.input_size, 3), np.uint8)
    assert tuple(info['latent_shape']) == onnx_cam.symbols(small).shape == \
        (12, *[(s + 3) // 4 - 1 for s in info['input_size']])
    tables = EntropyTables.load(bundle / 'tables.npz')
    assert np.array_equal(tables.quantized_cdf, torch_cam.coder.tables.quantized_cdf)
    assert np.array_equal(tables.medians, torch_cam.coder.tables.medians)
    assert onnx_cam.identity == dataclasses.replace(torch_cam.identity, source=onnx_cam.identity.source)
    js = json.loads((bundle / 'tables.json').read_text())
    assert js['cdf_length'] == tables.cdf_length.tolist() and js['offset'] == tables.offset.tolist()
    assert onnx_cam.input_size == torch_cam.input_size


def test_same_symbols_and_bytes_as_torch(exported):
    _, _, torch_cam, onnx_cam = exported
    checked = raw_disagree = 0
    images = _images((480, 640), 6, seed=1) + _images((96, 200), 4, seed=2) + _images(torch_cam.input_size, 4, 3)
    for rgb in images:
        small = resize_rgb(rgb, torch_cam.input_size)
        s_t, s_o = torch_cam.symbols(small), onnx_cam.symbols(small)
        checked += onnx_cam.stats.checked
        assert np.array_equal(s_t, s_o)
        a, b = torch_cam.encode(rgb), onnx_cam.encode(rgb)
        assert a.payload == b.payload
        assert (a.latent_shape, a.model_id, a.weights_hash, a.rate_point) == \
            (b.latent_shape, b.model_id, b.weights_hash, b.rate_point)
        # How often plain float32 rounding of the two engines disagrees (informational).
        with torch.no_grad():
            from ladon_ros.codec.preprocess import to_tensor
            y_t = torch_cam.backend.encoder(to_tensor(small, torch_cam.identity.mean, torch_cam.identity.std))
        med = torch_cam.coder.tables.medians[:, None, None]
        raw_disagree += int((np.rint(y_t[0].numpy() - med) != np.rint(onnx_cam.latent(small) - med)).sum())
    assert checked > 0, 'the exact-rounding guard band was never exercised'
    print(f'guard band settled {checked} values; raw float32 rounding disagreed on {raw_disagree}')


def test_guard_band_settles_engine_noise(exported):
    _, _, _, onnx_cam = exported
    rgb = SceneGenerator(image_size=onnx_cam.input_size, seed=5).sample(0).image
    y = onnx_cam.latent(rgb)
    med = onnx_cam.coder.tables.medians
    rng = np.random.default_rng(0)
    c, i, j = (rng.integers(0, n, 64) for n in y.shape)
    up, down = y.copy(), y.copy()
    # Two "engines" that put the same values just either side of a rounding boundary.
    base = np.floor(y[c, i, j] - med[c]) + 0.5 + med[c]
    up[c, i, j] = base + ATOL / 4
    down[c, i, j] = base - ATOL / 4
    assert (np.rint(up - med[:, None, None]) != np.rint(down - med[:, None, None])).sum() > 0
    assert np.array_equal(quantize(up, rgb, med, onnx_cam.coder.weights), quantize(down, rgb, med, onnx_cam.coder.weights))


def test_edge_decodes_onnx_frames(exported):
    ckpt, _, _, onnx_cam = exported
    edge = EdgePerception.from_checkpoints([ckpt])
    rgb = SceneGenerator(image_size=(240, 320), seed=9).sample(1).image
    frame = onnx_cam.encode(rgb)
    header, body = bitstream.parse(frame.payload)
    sent = onnx_cam.symbols(resize_rgb(rgb, onnx_cam.input_size))
    assert np.array_equal(decode_symbols(body, header.shape, onnx_cam.coder.tables), sent)
    res = edge.process(frame)
    assert res.segmentation.shape == (240, 320)


BLOCK_TORCH = textwrap.dedent('''
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == 'torch' or name.startswith('torch.'):
                raise ImportError('torch is blocked in this test')
            return None
    sys.meta_path.insert(0, _NoTorch())
    import hashlib, numpy as np
    from ladon_ros.camera import make_camera_encoder
    cam = make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=sys.argv[1])
    rgb = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    frame = cam.encode(rgb)
    assert 'torch' not in sys.modules
    print(hashlib.sha256(frame.payload).hexdigest())
''')


def test_camera_runs_without_torch(exported):
    _, bundle, torch_cam, _ = exported
    out = subprocess.run([sys.executable, '-c', BLOCK_TORCH, str(bundle)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rgb = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert out.stdout.strip().splitlines()[-1] == hashlib.sha256(torch_cam.encode(rgb).payload).hexdigest()


def test_onnx_backend_needs_a_folder():
    with pytest.raises(ValueError, match='onnx_dir'):
        make_camera_encoder(codec='ladon', backend='onnx')
    with pytest.raises(ValueError, match='backend'):
        make_camera_encoder(codec='ladon', checkpoint='x.safetensors', backend='tensorrt')


def test_paper_model_bytes_equal(tmp_path):
    """The paper configuration (416x416, C = 24): ONNX and torch cameras send the same bytes."""
    torch.manual_seed(1)
    model = build_model('ladon_resnet50').eval()
    with torch.no_grad():
        model.bottleneck.encoder[-1].weight.mul_(20.0)  # a latent spanning many integers
    ckpt = tmp_path / 'paper.safetensors'
    save_checkpoint(model, ckpt, rate_point=0.32)
    del model
    assert main(['export', '--checkpoint', str(ckpt), '--out', str(tmp_path / 'bundle')]) == 0
    torch_cam = make_camera_encoder(codec='ladon', checkpoint=ckpt)
    onnx_cam = make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=tmp_path / 'bundle')
    checked = 0
    for rgb in _images((416, 416), 2, seed=11) + _images((480, 640), 1, seed=12):
        a, b = torch_cam.encode(rgb), onnx_cam.encode(rgb)
        checked += onnx_cam.stats.checked
        assert a.latent_shape == b.latent_shape == (24, 103, 103)
        assert a.payload == b.payload
    assert checked > 0
