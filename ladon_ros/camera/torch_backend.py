"""The torch back end: the encoder of a Ladon checkpoint (``RobotSide``) on torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ladon_ros.camera.identity import ModelIdentity
from ladon_ros.codec.latent.coder import LatentCoder
from ladon_ros.codec.latent.quantize import EncoderWeights
from ladon_ros.codec.latent.tables import EntropyTables
from ladon_ros.codec.preprocess import to_tensor


class TorchBackend:
    """Latents from a loaded Ladon model's encoder.

    Args:
        model: A ``ladon_ros.models.Ladon`` (entropy tables updated, as ``load_checkpoint`` leaves it).
        meta: Its ``CheckpointMeta``.
        device: Torch device of the encoder.
        source: Where the weights came from, for logs.
    """

    name = 'torch'

    def __init__(self, model, meta, device: str = 'cpu', source: str = ''):
        from ladon_ros.checkpoint import CheckpointError
        if meta.kind != 'ladon':
            raise CheckpointError(f'{meta.model_id!r} is a {meta.kind}, the camera side needs a ladon checkpoint')
        self.identity = ModelIdentity.from_checkpoint_meta(meta, source=source or meta.model_id)
        self.device = torch.device(device)
        robot = model.robot_side().eval()
        bottleneck = robot.bottleneck
        self.coder = LatentCoder(EntropyTables.from_entropy_bottleneck(bottleneck.entropy_bottleneck),
                                 EncoderWeights.from_encoder(bottleneck.encoder.cpu(), meta.mean, meta.std),
                                 meta.weights_hash)
        self.robot = robot.to(self.device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = 'cpu') -> 'TorchBackend':
        """Loads a Ladon checkpoint (safetensors only)."""
        from ladon_ros.checkpoint import load_checkpoint
        model, meta = load_checkpoint(path)
        return cls(model, meta, device, source=Path(path).name)

    @property
    def encoder(self) -> torch.nn.Module:
        """The analysis transform (image -> latent)."""
        return self.robot.bottleneck.encoder

    def latent(self, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) float32 latent of an image already at the model's input size."""
        ident = self.identity
        with torch.no_grad():
            x = to_tensor(small_rgb, ident.mean, ident.std).to(self.device)
            return self.encoder(x)[0].float().cpu().numpy()
