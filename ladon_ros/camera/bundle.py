"""Reading the camera bundle (the folder ``ladon-ros export`` writes; no torch).

Folder layout (``camera.json`` names the rest)::

    camera.json           model id, weights hash, rate point, input size, normalisation, latent shape
    encoder.onnx          uint8 RGB (1, H, W, 3) -> latent (1, C, h, w) float32
    encoder_int8.onnx     optional: statically quantised (QDQ, per-channel) variant
    tables.npz / .json    quantized_cdf, cdf_length, offset, medians (entropy model)
    encoder_weights.npz   the encoder's weights, for the exact float64 rounding check

The writer is ``ladon_ros.export.bundle``; the package ships the bundles of its own
checkpoints (``ladon_ros.weights.shipped_camera_bundle``).
"""
from __future__ import annotations

from pathlib import Path

from ladon_ros.bundle_file import read_index
from ladon_ros.codec.latent.coder import LatentCoder
from ladon_ros.codec.latent.quantize import EncoderWeights
from ladon_ros.codec.latent.tables import EntropyTables

BUNDLE_FORMAT = 'ladon_ros.camera/1'


def read_bundle_info(folder: str | Path) -> dict:
    """Reads and validates ``camera.json``."""
    path = Path(folder) / 'camera.json'
    info = read_index(folder, 'camera.json', BUNDLE_FORMAT, 'ladon-ros export')
    info['input_size'] = tuple(int(v) for v in info['input_size'])
    info['latent_shape'] = tuple(int(v) for v in info['latent_shape'])
    if len(info['input_size']) != 2 or len(info['latent_shape']) != 3 or len(str(info['weights_hash'])) < 16:
        raise ValueError(f'{path}: invalid input_size / latent_shape / weights_hash')
    if len(info['mean']) != 3 or len(info['std']) != 3:
        raise ValueError(f'{path}: mean/std must have 3 values')
    return info


def bundle_coder(folder: str | Path, info: dict) -> LatentCoder:
    """The ``LatentCoder`` of a bundle (its tables and encoder weights)."""
    folder = Path(folder)
    tables = EntropyTables.load(folder / info['tables'])
    if tables.channels != info['latent_shape'][0]:
        raise ValueError(f'{folder}: tables for {tables.channels} channels, latent {info["latent_shape"]}')
    return LatentCoder(tables, EncoderWeights.load(folder / info['encoder_weights']), info['weights_hash'])
