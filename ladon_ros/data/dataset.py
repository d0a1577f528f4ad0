"""Torch views of the synthetic world: a ``Dataset`` of normalised images + multi-task targets."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ladon_ros.codec.preprocess import normalize
from ladon_ros.world import Scene, SceneGenerator
from ladon_ros.models.spec import IMAGENET_MEAN, IMAGENET_STD


def scene_targets(scene: Scene) -> dict[str, torch.Tensor]:
    """Targets of one scene as tensors.

    Returns:
        ``scene`` () int64, ``boxes`` (N, 4) float32 xyxy pixels, ``labels`` (N,) int64,
        ``seg`` (H, W) int64.
    """
    return {
        'scene': torch.tensor(scene.scene_class, dtype=torch.int64),
        'boxes': torch.from_numpy(scene.boxes.copy()),
        'labels': torch.from_numpy(scene.box_labels.copy()),
        'seg': torch.from_numpy(scene.seg.astype(np.int64)),
    }


class SceneDataset(Dataset):
    """``length`` scenes of one world, generated on the fly (cheap, so never cached).

    Args:
        length: Number of scenes (indices ``offset .. offset + length - 1`` of the world).
        image_size: (height, width) in pixels.
        seed: World seed (training and held-out sets use different seeds).
        offset: First scene index; lets each epoch see fresh scenes of the same world.
        mean: Normalisation mean (RGB, 0..1 scale).
        std: Normalisation std.
    """

    def __init__(self, *, length: int, image_size: tuple[int, int], seed: int, offset: int = 0,
                 mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD):
        if length < 1:
            raise ValueError('length must be >= 1')
        self.generator = SceneGenerator(image_size=image_size, seed=seed)
        self.length, self.offset = int(length), int(offset)
        self.mean, self.std = tuple(mean), tuple(std)

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int) -> Scene:
        """The raw scene behind item ``index``."""
        if not 0 <= index < self.length:
            raise IndexError(index)
        return self.generator.sample(self.offset + index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scene = self.scene(index)
        image = torch.from_numpy(normalize(scene.image, self.mean, self.std)[0])
        return image, scene_targets(scene)


def collate_scenes(batch: list) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Stacks images; targets stay a list (box counts differ per scene)."""
    images = torch.stack([b[0] for b in batch])
    return images, [b[1] for b in batch]
