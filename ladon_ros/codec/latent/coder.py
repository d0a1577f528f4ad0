"""``LatentCoder``: one model's latent -> payload (quantize -> rANS -> bitstream), written once.

Both camera back ends (torch, ONNX) hand their float latent to the same coder, which is
why they send the same bytes for the same image.
"""
from __future__ import annotations

import numpy as np

from ladon_ros.codec import bitstream
from ladon_ros.codec.latent.quantize import EncoderWeights, QuantizeStats, quantize
from ladon_ros.codec.latent.rans import decode_symbols, encode_symbols
from ladon_ros.codec.latent.tables import EntropyTables


class LatentCoder:
    """Codes the latents of one Ladon model.

    Args:
        tables: The model's entropy tables.
        weights: The model's encoder weights (for the exact rounding of near-boundary values).
        weights_hash: The model's full weights hash (its prefix goes into the bitstream header).

    Attributes:
        stats: What the last ``symbols`` call settled exactly.
    """

    def __init__(self, tables: EntropyTables, weights: EncoderWeights, weights_hash: str):
        self.tables, self.weights, self.weights_hash = tables, weights, weights_hash
        self.stats = QuantizeStats()

    def symbols(self, latent: np.ndarray, small_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) int32 symbols of a float32 latent computed from ``small_rgb`` (model input size)."""
        if latent.ndim != 3 or latent.shape[0] != self.tables.channels:
            raise ValueError(f'expected a ({self.tables.channels}, h, w) latent, got {latent.shape}')
        return quantize(latent, small_rgb, self.tables.medians, self.weights, self.stats)

    def body(self, symbols: np.ndarray) -> bytes:
        """The rANS-coded symbols (the bitstream body; CompressAI's string for one image)."""
        return encode_symbols(symbols, self.tables)

    def payload(self, latent: np.ndarray, small_rgb: np.ndarray) -> tuple[bytes, tuple[int, int, int]]:
        """Latent -> (bitstream payload with header, latent shape)."""
        symbols = self.symbols(latent, small_rgb)
        shape = tuple(int(v) for v in symbols.shape)
        return bitstream.pack('ladon', shape, self.body(symbols), self.weights_hash), shape

    def decode(self, body: bytes, shape: tuple[int, int, int]) -> np.ndarray:
        """Inverse of ``body``: bytes -> (C, h, w) int32 symbols (for tests and tools)."""
        return decode_symbols(body, shape, self.tables)
