"""Camera side -> bytes -> edge side, for Ladon and every image codec, without ROS."""
import dataclasses

import numpy as np
import pytest
import torch

from ladon_ros.camera import make_camera_encoder
from ladon_ros.checkpoint import load_checkpoint, save_checkpoint
from ladon_ros.codec import bitstream
from ladon_ros.codec.latent import rans
from ladon_ros.codec.preprocess import resize_rgb, to_tensor
from ladon_ros.edge import EdgePerception
from ladon_ros.errors import FrameRejected
from ladon_ros.models import build_model


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp('ck')
    save_checkpoint(build_model('ladon_small').eval(), d / 'a.safetensors', rate_point=1.0)
    save_checkpoint(build_model('ladon_small').eval(), d / 'b.safetensors', rate_point=4.0)
    save_checkpoint(build_model('teacher_small').eval(), d / 't.safetensors')
    return d


@pytest.fixture(scope='module')
def edge(ckpts):
    return EdgePerception.from_checkpoints([ckpts / 'a.safetensors', ckpts / 'b.safetensors'],
                                           ckpts / 't.safetensors')


IMAGE = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)


@pytest.mark.parametrize('codec, quality', [('ladon', 0), ('raw', 0), ('jpeg', 75), ('png', 3), ('webp', 80)])
def test_every_codec_is_served_in_original_pixels(edge, ckpts, codec, quality):
    enc = make_camera_encoder(codec=codec, checkpoint=ckpts / 'a.safetensors', quality=quality)
    frame = enc.encode(IMAGE)
    result = edge.process(frame)
    assert result.segmentation.shape == (120, 200)
    assert len(result.classification) == 5
    scores = [h.score for h in result.classification]
    assert scores == sorted(scores, reverse=True) and all(0.0 < s <= 1.0 for s in scores)
    assert len({h.class_index for h in result.classification}) == 5
    assert all(h.class_name == edge.classes.classification[h.class_index] for h in result.classification)
    # Every class together is a probability distribution (a top-k subset only bounds it).
    everything = EdgePerception.from_checkpoints([ckpts / 'a.safetensors'], ckpts / 't.safetensors',
                                                 top_k=len(edge.classes.classification))
    assert sum(h.score for h in everything.process(frame).classification) == pytest.approx(1.0, abs=1e-5)
    # decode, heads (= network + every head run), and each of those stages
    assert set(result.timings_ms) == {'decode', 'heads', 'network', 'classification', 'detection', 'segmentation'}
    stages = result.timings_ms
    assert stages['heads'] == pytest.approx(sum(stages[s] for s in ('network', 'classification', 'detection',
                                                                    'segmentation')))


SMOOTH = np.clip(np.add.outer(np.linspace(0, 200, 120), np.linspace(0, 55, 200))[..., None]
                 + np.array([0, 30, 60]), 0, 255).astype(np.uint8)  # gradients: lossy codecs keep them


@pytest.mark.parametrize('codec, quality, max_err', [('raw', 0, 0), ('png', 3, 0), ('jpeg', 90, 6), ('webp', 90, 6)])
def test_image_codecs_decode_to_what_the_camera_sent(edge, ckpts, codec, quality, max_err):
    meta = edge.served_models['teacher']
    sent = resize_rgb(SMOOTH, meta.input_size)
    frame = make_camera_encoder(codec=codec, checkpoint=ckpts / 'a.safetensors', quality=quality).encode(SMOOTH)
    got = edge.prepare(frame).tensor
    want = to_tensor(sent, meta.mean, meta.std)
    assert got.shape == want.shape
    # Back to 0..255 levels: the mean error of lossless codecs is 0, of lossy ones a few levels.
    std = torch.tensor(meta.std).view(1, 3, 1, 1) * 255
    err = ((got - want) * std).abs()
    assert float(err.mean()) <= max_err / 2 and float(err.max()) <= max(max_err * 6, 1e-3)


def test_ladon_decodes_to_the_encoders_latent(edge, ckpts):
    model, meta = load_checkpoint(ckpts / 'a.safetensors')
    frame = make_camera_encoder(codec='ladon', checkpoint=ckpts / 'a.safetensors').encode(SMOOTH)
    with torch.no_grad():
        y = model.bottleneck.encoder(to_tensor(resize_rgb(SMOOTH, meta.input_size), meta.mean, meta.std))
    side = model.edge_side()
    _, body = bitstream.parse(frame.payload)
    c, h, w = frame.latent_shape
    y_hat = side.entropy_decode([[body + bytes(rans.rans_guard_padding(len(body), c * h * w))]], (h, w))
    # Quantisation moves each symbol by at most half a step (float noise at a boundary aside).
    assert float((y_hat - y).abs().max()) <= 0.5 + 1e-3
    assert torch.equal(edge.prepare(frame).tensor, side.decode(y_hat))


def test_both_rate_points_are_served_and_batched(edge, ckpts):
    frames = [make_camera_encoder(codec='ladon', checkpoint=ckpts / n).encode(IMAGE)
              for n in ('a.safetensors', 'b.safetensors', 'a.safetensors')]
    assert frames[0].weights_hash != frames[1].weights_hash
    results = edge.infer([edge.prepare(f) for f in frames])
    assert len(results) == 3
    assert [h.class_index for h in results[0].classification] == [h.class_index for h in results[2].classification]


def test_foreign_and_malformed_frames_are_rejected(edge, ckpts, tmp_path):
    torch.manual_seed(1)
    save_checkpoint(build_model('ladon_small').eval(), tmp_path / 'other.safetensors')
    foreign = make_camera_encoder(codec='ladon', checkpoint=tmp_path / 'other.safetensors').encode(IMAGE)
    good = make_camera_encoder(codec='ladon', checkpoint=ckpts / 'a.safetensors').encode(IMAGE)
    cases = {
        'weights_mismatch': foreign,
        'truncated': dataclasses.replace(good, payload=good.payload[:-7]),
        'unknown_codec': dataclasses.replace(good, codec='h265'),
        'bad_shape': dataclasses.replace(good, latent_shape=(12, 9999, 63)),
        'codec_mismatch': dataclasses.replace(good, codec='jpeg'),
        'bad_image_size': dataclasses.replace(good, image_size=(0, 10)),
    }
    for reason, frame in cases.items():
        with pytest.raises(FrameRejected) as err:
            edge.prepare(frame)
        assert err.value.reason == reason, (reason, err.value)
    assert edge.process(good).segmentation.shape == IMAGE.shape[:2]
