"""The synthetic world: deterministic, well-formed, and consistent across its three label kinds."""
import cv2
import numpy as np
import pytest
import torch

from ladon_ros.data.dataset import SceneDataset, collate_scenes
from ladon_ros.world import _TWIN_OF, CLASSES, SCENES, SceneGenerator, _background, _fine_detail

torch.set_num_threads(1)


def test_same_seed_and_index_give_the_same_scene():
    a = SceneGenerator(image_size=(96, 128), seed=3).sample(7)
    b = SceneGenerator(image_size=(96, 128), seed=3).sample(7)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.seg, b.seg)
    assert np.array_equal(a.boxes, b.boxes) and a.scene_class == b.scene_class


def test_other_seed_or_index_gives_another_scene():
    g = SceneGenerator(image_size=(64, 64), seed=0)
    assert not np.array_equal(g.sample(0).image, g.sample(1).image)
    assert not np.array_equal(g.sample(0).image, SceneGenerator(image_size=(64, 64), seed=1).sample(0).image)


def test_types_shapes_and_label_ranges():
    g = SceneGenerator(image_size=(80, 112), seed=1)
    for i in range(20):
        s = g.sample(i)
        assert s.image.shape == (80, 112, 3) and s.image.dtype == np.uint8
        assert s.seg.shape == (80, 112) and s.seg.dtype == np.uint8
        assert s.boxes.dtype == np.float32 and s.boxes.shape == (len(s.box_labels), 4)
        assert s.box_labels.dtype == np.int64
        assert 0 <= s.scene_class < len(CLASSES.classification)
        assert s.seg.max() < len(CLASSES.segmentation)
        if len(s.box_labels):
            assert s.box_labels.min() >= 1 and s.box_labels.max() < len(CLASSES.detection)
            assert (s.boxes[:, 2] > s.boxes[:, 0]).all() and (s.boxes[:, 3] > s.boxes[:, 1]).all()
            assert s.boxes.min() >= 0 and (s.boxes[:, [0, 2]] <= 112).all() and (s.boxes[:, [1, 3]] <= 80).all()


def test_boxes_frame_pixels_of_their_own_class():
    g = SceneGenerator(image_size=(128, 128), seed=2)
    checked = 0
    for i in range(30):
        s = g.sample(i)
        for (x0, y0, x1, y1), lab in zip(s.boxes.astype(int), s.box_labels):
            inside = s.seg[y0:y1, x0:x1] == lab
            assert inside.any()
            # Tight box: the label touches every side of it.
            assert inside[0].any() or inside[-1].any()
            checked += 1
    assert checked > 30


def test_every_class_of_every_task_occurs():
    g = SceneGenerator(image_size=(64, 64), seed=0)
    scenes = [g.sample(i) for i in range(150)]
    assert {s.scene_class for s in scenes} == set(range(len(CLASSES.classification)))
    assert set(np.concatenate([s.box_labels for s in scenes])) == set(range(1, len(CLASSES.detection)))
    assert set(np.unique(np.concatenate([s.seg.ravel() for s in scenes]))) == set(range(len(CLASSES.segmentation)))


def test_scene_class_changes_the_picture_statistics():
    # The base environments must be visible in the pixels' colours (else classification is
    # unlearnable); their twins differ only in fine detail (next test).
    g = SceneGenerator(image_size=(64, 64), seed=4)
    means = {}
    for i in range(240):
        s = g.sample(i)
        if SCENES[s.scene_class] not in _TWIN_OF:
            means.setdefault(s.scene_class, []).append(s.image.reshape(-1, 3).mean(0))
    centres = np.array([np.mean(v, 0) for _, v in sorted(means.items())])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    assert dist[np.triu_indices(len(centres), 1)].min() > 5


@pytest.mark.parametrize('twin', sorted(_TWIN_OF))
def test_twins_differ_from_their_base_only_in_fine_detail(twin):
    # The detail a twin adds to its base's background is high-frequency: after a Gaussian
    # blur of sigma 1.5 px (about what JPEG at low quality keeps of a 128 px frame) little of it is
    # left, while it is strong enough to stand out of the sensor noise (sigma <= 7).
    assert twin in SCENES and _TWIN_OF[twin] in SCENES
    for seed in range(4):
        rng = np.random.default_rng(seed)
        base = _background(rng, _TWIN_OF[twin], 128, 128)
        with_detail = base.copy()
        _fine_detail(np.random.default_rng(seed + 100), twin, with_detail, horizon=40)
        diff = (with_detail - base).mean(-1)
        low = cv2.GaussianBlur(diff, (0, 0), 1.5)
        energy = np.square(diff).sum()
        assert diff.max() - diff.min() >= 18 and energy > 0  # the contrast of the detail
        assert np.square(low).sum() < 0.35 * energy, (twin, seed)


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError):
        SceneGenerator(image_size=(8, 8), seed=0)
    with pytest.raises(ValueError):
        SceneGenerator(image_size=(64, 64), seed=0).sample(-1)


def test_dataset_items_and_collate():
    ds = SceneDataset(length=3, image_size=(64, 96), seed=5, offset=10)
    x, t = ds[1]
    assert x.shape == (3, 64, 96) and x.dtype == torch.float32
    assert t['seg'].shape == (64, 96) and t['seg'].dtype == torch.int64
    assert np.array_equal(ds.scene(1).image, SceneGenerator(image_size=(64, 96), seed=5).sample(11).image)
    images, targets = collate_scenes([ds[0], ds[1], ds[2]])
    assert images.shape == (3, 3, 64, 96) and len(targets) == 3
    with pytest.raises(IndexError):
        ds.scene(3)
