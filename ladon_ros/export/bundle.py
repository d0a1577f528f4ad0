"""``ladon-ros export``: a checkpoint -> the folder a torch-free camera runs from.

The folder layout and its reader are in ``ladon_ros.camera.bundle`` (the robot reads
bundles without importing this package).
"""
from __future__ import annotations

import json
from pathlib import Path

from ladon_ros.camera.bundle import BUNDLE_FORMAT


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
    from ladon_ros.codec.latent.quantize import EncoderWeights
    from ladon_ros.codec.latent.tables import EntropyTables
    from ladon_ros.export.onnx_graph import OPSET, export_encoder_onnx
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

