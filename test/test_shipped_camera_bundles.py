"""The shipped ONNX camera bundles are the shipped checkpoints: same identity, same bytes."""
import numpy as np
import pytest
import torch

from ladon_ros.camera import LadonCameraEncoder, make_camera_encoder
from ladon_ros.camera.bundle import read_bundle_info
from ladon_ros.checkpoint import read_metadata
from ladon_ros.config import ConfigError
from ladon_ros.world import SceneGenerator
from ladon_ros.weights import BUNDLES_DIR, default_checkpoint, ladon_rate_points, shipped_camera_bundle

torch.set_num_threads(1)
POINTS = ladon_rate_points()


def _images(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    gen = SceneGenerator(image_size=(240, 320), seed=seed)
    return [gen.sample(i).image for i in range(3)] + [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)]


def test_every_shipped_ladon_checkpoint_has_its_bundle():
    assert len(POINTS) >= 3
    for path, meta in POINTS:
        info = read_bundle_info(BUNDLES_DIR / path.stem)
        assert (info['model_id'], info['weights_hash'], info['rate_point'], info['input_size']) == \
            (meta.model_id, meta.weights_hash, meta.rate_point, tuple(meta.input_size))
        assert info['checkpoint_notes'] == meta.notes
    total = sum(f.stat().st_size for f in BUNDLES_DIR.rglob('*') if f.is_file())
    # Six bundles of ~310 kB: ladon_small's and ladon_small_wide's three rate points (the same
    # encoder; each bundle carries its own checkpoint's identity).
    assert total < 2_500_000, f'shipped bundles grew to {total} bytes'


def test_shipped_bundle_follows_the_checkpoint_rule():
    assert shipped_camera_bundle() == BUNDLES_DIR / default_checkpoint('ladon').stem
    for path, meta in POINTS:
        assert shipped_camera_bundle(rate_point=meta.rate_point) == BUNDLES_DIR / path.stem
        assert shipped_camera_bundle(str(path)) == BUNDLES_DIR / path.stem
    with pytest.raises(ConfigError, match='no shipped ONNX camera bundle'):
        shipped_camera_bundle(rate_point=123.0)
    with pytest.raises(ConfigError, match='not a shipped checkpoint'):
        shipped_camera_bundle('/elsewhere/own.safetensors')


@pytest.mark.parametrize('index', range(len(POINTS)))
def test_bundle_frames_equal_the_checkpoint_frames(index):
    path, meta = POINTS[index]
    torch_cam = make_camera_encoder(codec='ladon', checkpoint=path)
    onnx_cam = make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=shipped_camera_bundle(str(path)))
    assert isinstance(onnx_cam, LadonCameraEncoder) and onnx_cam.backend.name == 'onnx'
    assert onnx_cam.identity.weights_hash == torch_cam.identity.weights_hash == read_metadata(path).weights_hash
    for rgb in _images(seed=index):
        a, b = torch_cam.encode(rgb), onnx_cam.encode(rgb)
        assert a.payload == b.payload
        assert (a.model_id, a.weights_hash, a.rate_point, a.latent_shape) == \
            (b.model_id, b.weights_hash, b.rate_point, b.latent_shape)
