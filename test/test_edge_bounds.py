"""What a hostile or broken robot can cost the edge: bounded image claims, exact-encoding check."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch

from ladon_ros.camera import make_camera_encoder
from ladon_ros.codec import bitstream
from ladon_ros.world import SceneGenerator
from ladon_ros.edge import DEFAULT_MAX_IMAGE_SIDE, DEFAULT_MAX_MASK_SIDE, EdgePerception
from ladon_ros.errors import FrameRejected
from ladon_ros.weights import default_checkpoint


@pytest.fixture(scope='module')
def setup():
    torch.set_num_threads(1)
    ckpt = default_checkpoint('ladon')
    edge = EdgePerception.from_checkpoints([ckpt], None, min_score=0.3)
    camera = make_camera_encoder(codec='ladon', checkpoint=ckpt)
    gen = SceneGenerator(seed=5, image_size=(240, 320))
    frames = [camera.encode(gen.sample(i).image) for i in range(6)]
    return edge, frames


def _with_body(frame, body: bytes):
    """``frame`` with ``body`` under a fresh header: the CRC is valid, so only the decoder can tell."""
    header, _ = bitstream.parse(frame.payload)
    return dataclasses.replace(frame, payload=bitstream.pack('ladon', header.shape, body, frame.weights_hash))


def _reason(edge, frame) -> str | None:
    try:
        edge.prepare(frame)
    except FrameRejected as err:
        return err.reason
    return None


def test_genuine_frames_pass_the_encoding_check(setup):
    edge, frames = setup
    assert [_reason(edge, f) for f in frames] == [None] * len(frames)


def test_random_truncated_and_mangled_bodies_are_refused(setup):
    edge, frames = setup
    rng = np.random.default_rng(0)
    body = bitstream.parse(frames[0].payload)[1]
    cases = {'random': [rng.integers(0, 256, len(body), dtype=np.uint8).tobytes() for _ in range(20)],
             'truncated': [body[:-k] for k in (1, 2, 5, 17, len(body) // 2)],
             'mangled': []}
    for _ in range(20):
        b = bytearray(body)
        i = int(rng.integers(0, len(b)))
        b[i] ^= int(rng.integers(1, 256))
        cases['mangled'].append(bytes(b))
    for kind, bodies in cases.items():
        reasons = [_reason(edge, _with_body(frames[0], b)) for b in bodies]
        assert None not in reasons, (kind, reasons)
        assert set(reasons) <= {'bad_encoding', 'bad_symbols', 'bad_payload', 'too_large'}, (kind, reasons)
        print(kind, {r: reasons.count(r) for r in set(reasons)})


def test_the_check_can_be_turned_off_and_then_garbage_is_served(setup):
    # The control: without the check, rANS decodes mangled bytes to *some* symbols.
    edge, frames = setup
    body = bytearray(bitstream.parse(frames[0].payload)[1])
    body[len(body) // 2] ^= 0x5A
    frame = _with_body(frames[0], bytes(body))
    edge.verify_encoding = False
    try:
        assert _reason(edge, frame) is None
    finally:
        edge.verify_encoding = True
    assert _reason(edge, frame) == 'bad_encoding'


def test_encoding_check_cost(setup, capsys):
    edge, frames = setup

    def per_frame_ms():
        t0 = time.perf_counter()
        for _ in range(5):
            for f in frames:
                edge.prepare(f)
        return (time.perf_counter() - t0) * 1e3 / (5 * len(frames))

    on = per_frame_ms()
    edge.verify_encoding = False
    try:
        off = per_frame_ms()
    finally:
        edge.verify_encoding = True
    with capsys.disabled():
        print(f'\nprepare() per frame: {off:.2f} ms without the encoding check, {on:.2f} ms with it')


def test_huge_image_claims_are_refused_and_large_ones_bounded(setup):
    edge, frames = setup
    huge = dataclasses.replace(frames[0], image_size=(16384, 16384))
    assert _reason(edge, huge) == 'bad_image_size'
    over = dataclasses.replace(frames[0], image_size=(DEFAULT_MAX_IMAGE_SIDE + 1, 640))
    assert _reason(edge, over) == 'bad_image_size'
    big = dataclasses.replace(frames[0], image_size=(3072, 4096))
    ref = edge.process(dataclasses.replace(frames[0], image_size=(240, 320)))
    res = edge.process(big)
    # The label map is capped (aspect kept); boxes stay in the claimed image's pixels.
    assert res.segmentation.shape == (1440, DEFAULT_MAX_MASK_SIDE)
    assert ref.segmentation.shape == (240, 320)
    assert len(res.detections) == len(ref.detections) > 0
    for a, b in zip(res.detections, ref.detections):
        assert a.center_x == pytest.approx(b.center_x * 4096 / 320, rel=1e-4)
        assert a.size_y == pytest.approx(b.size_y * 3072 / 240, rel=1e-4)


def test_limits_are_validated():
    ckpt = default_checkpoint('ladon')
    with pytest.raises(ValueError, match='max_image_side'):
        EdgePerception.from_checkpoints([ckpt], None, max_image_side=0)
    with pytest.raises(ValueError, match='max_image_side'):
        EdgePerception.from_checkpoints([ckpt], None, max_image_side=20000)


def test_robot_label_map_keeps_the_model_resolution_in_the_camera_aspect(setup):
    import cv2
    edge, frames = setup
    res = edge.process(dataclasses.replace(frames[0], image_size=(480, 640)))
    small = res.compact_segmentation()
    ih, iw = res.input_size
    assert small.shape == (ih, round(640 * ih / 480))  # 128 rows: every model row kept
    # Upsampled back (nearest) it is the full-size map, up to pixels on region borders.
    back = cv2.resize(small, (640, 480), interpolation=cv2.INTER_NEAREST)
    assert (back == res.segmentation).mean() > 0.97
    # Small images are not scaled up.
    tiny = edge.process(dataclasses.replace(frames[0], image_size=(60, 80)))
    assert tiny.compact_segmentation().shape == (60, 80)
