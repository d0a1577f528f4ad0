"""``ModelIdentity``: which Ladon model a camera encoder runs, whatever its back end."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelIdentity:
    """What a camera encoder's frames say about their model (and what the edge checks).

    Attributes:
        model_id: Registry name of the architecture.
        weights_hash: Hex SHA-256 of the checkpoint's tensors.
        rate_point: Training beta of the checkpoint.
        input_size: (height, width) images are resized to.
        mean: Normalisation mean (RGB, 0..1 scale).
        std: Normalisation std.
        notes: The checkpoint's notes (training provenance; the random-weights marker).
        source: Where the weights came from, for logs (a checkpoint or bundle path).
    """

    model_id: str
    weights_hash: str
    rate_point: float
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    notes: str = ''
    source: str = ''

    @property
    def short_hash(self) -> str:
        """The 16 hex digits frames carry (``LatentFrame.weights_hash``)."""
        return self.weights_hash[:16]

    @classmethod
    def from_checkpoint_meta(cls, meta, source: str = '') -> 'ModelIdentity':
        """From a ``ladon_ros.checkpoint.CheckpointMeta``."""
        return cls(meta.model_id, meta.weights_hash, float(meta.rate_point), tuple(meta.input_size),
                   tuple(meta.mean), tuple(meta.std), meta.notes, source)

    @classmethod
    def from_bundle_info(cls, info: dict, source: str = '') -> 'ModelIdentity':
        """From a bundle's ``camera.json`` (``ladon_ros.camera.bundle.read_bundle_info``)."""
        return cls(info['model_id'], info['weights_hash'], float(info['rate_point']), tuple(info['input_size']),
                   tuple(info['mean']), tuple(info['std']), info.get('checkpoint_notes', ''), source)
