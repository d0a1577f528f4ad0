"""``ladon-ros export``: a checkpoint -> the folder a torch-free camera runs from.

Folder layout (``camera.json`` names the rest)::

    camera.json           model id, weights hash, rate point, input size, normalisation, latent shape
    encoder.onnx          uint8 RGB (1, H, W, 3) -> latent (1, C, h, w) float32
    encoder_int8.onnx     optional: statically quantised (QDQ, per-channel) variant
    tables.npz / .json    quantized_cdf, cdf_length, offset, medians (entropy model)
    encoder_weights.npz   the encoder's weights, for the exact float64 rounding check
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BUNDLE_FORMAT = 'ladon_ros.camera/1'


def export_camera_bundle(checkpoint: str | Path, out_dir: str | Path, *, int8: bool = False,
                         calibration_frames: int = 16) -> dict:
    """Writes the camera bundle of a Ladon checkpoint.

    Args:
        checkpoint: A ``ladon_ros`` Ladon checkpoint (safetensors).
        out_dir: Folder to write (created).
        int8: Also write ``encoder_int8.onnx`` (calibrated on synthetic scenes).
        calibration_frames: Frames used for the int8 calibration.

    Returns:
        The ``camera.json`` content.
    """
    from ladon_ros.checkpoint import CheckpointError, load_checkpoint
    from ladon_ros.export.canonical import EncoderWeights
    from ladon_ros.export.onnx_graph import OPSET, export_encoder_onnx
    from ladon_ros.export.tables import EntropyTables
    model, meta = load_checkpoint(checkpoint)
    if meta.kind != 'ladon':
        raise CheckpointError(f'{meta.model_id!r} is a {meta.kind}: only Ladon checkpoints have a camera encoder')
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    encoder = model.bottleneck.encoder
    export_encoder_onnx(encoder, meta.mean, meta.std, meta.input_size, out / 'encoder.onnx')
    tables = EntropyTables.from_entropy_bottleneck(model.bottleneck.entropy_bottleneck)
    tables.save(out / 'tables.npz')
    (out / 'tables.json').write_text(json.dumps({
        'quantized_cdf': tables.quantized_cdf.tolist(), 'cdf_length': tables.cdf_length.tolist(),
        'offset': tables.offset.tolist(), 'medians': [float(v) for v in tables.medians]}))
    EncoderWeights.from_encoder(encoder, meta.mean, meta.std).save(out / 'encoder_weights.npz')
    c = model.bottleneck.bottleneck_channels
    from ladon_ros.models.spec import latent_shape
    info = {
        'format': BUNDLE_FORMAT, 'model_id': meta.model_id, 'weights_hash': meta.weights_hash,
        'rate_point': meta.rate_point, 'input_size': list(meta.input_size), 'mean': list(meta.mean),
        'std': list(meta.std), 'latent_shape': list(latent_shape(c, meta.input_size)), 'opset': OPSET,
        'encoder': 'encoder.onnx', 'encoder_int8': None, 'tables': 'tables.npz',
        'encoder_weights': 'encoder_weights.npz', 'checkpoint_notes': meta.notes,
    }
    if int8:
        from ladon_ros.export.int8 import quantize_encoder_int8
        quantize_encoder_int8(out / 'encoder.onnx', out / 'encoder_int8.onnx', meta.input_size,
                              frames=calibration_frames)
        info['encoder_int8'] = 'encoder_int8.onnx'
    (out / 'camera.json').write_text(json.dumps(info, indent=1, sort_keys=True))
    return info


def read_bundle_info(folder: str | Path) -> dict:
    """Reads and validates ``camera.json`` (no torch)."""
    path = Path(folder) / 'camera.json'
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found: run `ladon-ros export` first')
    info = json.loads(path.read_text())
    if info.get('format') != BUNDLE_FORMAT:
        raise ValueError(f'{path}: format {info.get("format")!r}, expected {BUNDLE_FORMAT!r}')
    info['input_size'] = tuple(int(v) for v in info['input_size'])
    info['latent_shape'] = tuple(int(v) for v in info['latent_shape'])
    if len(info['input_size']) != 2 or len(info['latent_shape']) != 3 or len(str(info['weights_hash'])) < 16:
        raise ValueError(f'{path}: invalid input_size / latent_shape / weights_hash')
    if len(info['mean']) != 3 or len(info['std']) != 3:
        raise ValueError(f'{path}: mean/std must have 3 values')
    return info
