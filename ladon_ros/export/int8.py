"""Static int8 quantisation of the exported encoder (ONNX Runtime, QDQ, per-channel weights).

Calibrated on synthetic scenes (``ladon_ros.world``), nothing downloaded. The int8
encoder's latent differs from the fp32 one, so its symbols are not bit-exact with the torch
camera: ``ladon-ros bench-encoder`` measures the symbol agreement and size change.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def calibration_images(input_size: tuple[int, int], frames: int, seed: int = 1234) -> list[np.ndarray]:
    """``frames`` synthetic scenes at ``input_size`` (uint8 RGB, (1, H, W, 3))."""
    from ladon_ros.world import SceneGenerator
    gen = SceneGenerator(image_size=tuple(input_size), seed=seed)
    return [gen.sample(i).image[None] for i in range(frames)]


def quantize_encoder_int8(fp32_path: str | Path, out_path: str | Path, input_size: tuple[int, int], *,
                          frames: int = 16, seed: int = 1234) -> Path:
    """Writes an int8 (QDQ) copy of ``encoder.onnx``.

    Only the convolutions are quantised (weights per channel, activations per tensor,
    MinMax calibration); the GDN normalisation arithmetic stays float.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{'rgb': img} for img in calibration_images(input_size, frames, seed)])

        def get_next(self):
            return next(self._it, None)

    out_path = Path(out_path)
    quantize_static(str(fp32_path), str(out_path), _Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    op_types_to_quantize=['Conv'])
    return out_path


def quantize_onnx_int8(fp32_path: str | Path, out_path: str | Path, feeds: list[dict[str, np.ndarray]]) -> Path:
    """Writes an int8 (QDQ) copy of any graph: convolutions and matmuls, weights per channel.

    Args:
        fp32_path: The float graph.
        out_path: Where to write the quantised one.
        feeds: Calibration inputs (MinMax), one dict of input name -> array per run.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    quantize_static(str(fp32_path), str(out_path), _Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    op_types_to_quantize=['Conv', 'MatMul', 'Gemm'])
    return Path(out_path)
