"""The factorized prior's coding tables as plain numpy arrays (no torch needed to use them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class EntropyTables:
    """What the rANS coder needs for a CompressAI ``EntropyBottleneck``.

    Attributes:
        quantized_cdf: (C, L) int32 CDFs, one row per channel (``_quantized_cdf``).
        cdf_length: (C,) int32 valid length of each row.
        offset: (C,) int32 symbol offset of each row.
        medians: (C,) float32 medians the latent is rounded around.
    """

    quantized_cdf: np.ndarray
    cdf_length: np.ndarray
    offset: np.ndarray
    medians: np.ndarray
    _lists: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        c = self.medians.shape[0]
        if self.quantized_cdf.ndim != 2 or self.quantized_cdf.shape[0] != c or self.cdf_length.shape != (c,) \
                or self.offset.shape != (c,):
            raise ValueError(f'inconsistent entropy tables for {c} channels')

    @property
    def channels(self) -> int:
        """Latent channels C."""
        return int(self.medians.shape[0])

    def coder_args(self) -> tuple[list, list, list]:
        """(cdfs, cdf lengths, offsets) as the Python lists the rANS coder takes (cached)."""
        if 'args' not in self._lists:
            self._lists['args'] = (self.quantized_cdf.tolist(), self.cdf_length.tolist(), self.offset.tolist())
        return self._lists['args']

    def index_list(self, shape: tuple[int, int]) -> list[int]:
        """CDF index (= channel) of every symbol of a (C, h, w) latent in C order (cached per shape)."""
        key = ('idx', tuple(shape))
        if key not in self._lists:
            h, w = shape
            self._lists[key] = np.repeat(np.arange(self.channels, dtype=np.int32), h * w).tolist()
        return self._lists[key]

    def save(self, path: str | Path) -> None:
        """Writes ``tables.npz``."""
        np.savez(path, quantized_cdf=self.quantized_cdf, cdf_length=self.cdf_length, offset=self.offset,
                 medians=self.medians)

    @classmethod
    def load(cls, path: str | Path) -> 'EntropyTables':
        """Reads ``tables.npz`` (no pickle)."""
        with np.load(path, allow_pickle=False) as z:
            return cls(z['quantized_cdf'].astype(np.int32), z['cdf_length'].astype(np.int32).reshape(-1),
                       z['offset'].astype(np.int32).reshape(-1), z['medians'].astype(np.float32).reshape(-1))

    @classmethod
    def from_entropy_bottleneck(cls, eb) -> 'EntropyTables':
        """From an updated CompressAI ``EntropyBottleneck`` (torch)."""
        if eb._offset.numel() == 0:
            raise ValueError('the entropy bottleneck has no tables: call update() first')
        return cls(eb._quantized_cdf.detach().cpu().numpy().astype(np.int32),
                   eb._cdf_length.detach().cpu().numpy().astype(np.int32).reshape(-1),
                   eb._offset.detach().cpu().numpy().astype(np.int32).reshape(-1),
                   eb._get_medians().detach().cpu().numpy().astype(np.float32).reshape(-1))
