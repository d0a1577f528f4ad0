"""compressai's C++ rANS coder (``compressai.ans``) without importing torch.

``import compressai.ans`` runs ``compressai/__init__.py``, which imports torch. The coder
itself is a self-contained pybind11 extension, so it is loaded from its file directly and
registered as ``compressai.ans`` (a later ``import compressai`` reuses it: pybind11 types
must not be registered twice).
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import numpy as np

from ladon_ros.codec.latent.tables import EntropyTables


def load_ans():
    """The ``compressai.ans`` extension module (``RansEncoder``, ``RansDecoder``)."""
    mod = sys.modules.get('compressai.ans')
    if mod is not None:
        return mod
    spec = importlib.util.find_spec('compressai')  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('compressai is not installed (its rANS coder is needed on the camera)')
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).glob('ans*.so')) + sorted(Path(folder).glob('ans*.pyd')):
            loader = importlib.machinery.ExtensionFileLoader('compressai.ans', str(path))
            ext_spec = importlib.util.spec_from_loader('compressai.ans', loader, origin=str(path))
            mod = importlib.util.module_from_spec(ext_spec)
            loader.exec_module(mod)
            sys.modules['compressai.ans'] = mod
            return mod
    raise ImportError(f'no compiled compressai.ans extension in {spec.submodule_search_locations}')


def encode_symbols(symbols: np.ndarray, tables: EntropyTables) -> bytes:
    """Entropy-codes one (C, h, w) int32 latent exactly as ``EntropyBottleneck.compress`` does.

    Same coder, same per-channel CDF index, same C-order symbol sequence: the bytes equal
    CompressAI's for the same symbols, and its ``decompress`` reads them.
    """
    if symbols.ndim != 3 or symbols.shape[0] != tables.channels:
        raise ValueError(f'expected a ({tables.channels}, h, w) latent, got {symbols.shape}')
    cdfs, lengths, offsets = tables.coder_args()
    enc = load_ans().RansEncoder()
    return enc.encode_with_indexes(symbols.astype(np.int32, copy=False).reshape(-1).tolist(),
                                   tables.index_list(symbols.shape[1:]), cdfs, lengths, offsets)


def decode_symbols(data: bytes | bytearray, shape: tuple[int, int, int], tables: EntropyTables) -> np.ndarray:
    """Inverse of ``encode_symbols``: bytes -> (C, h, w) int32 symbols.

    No bounds check of its own: the edge decodes through ``codec.latent.decode.LatentDecoder``,
    which hands it a zero-padded copy (``bitstream.rans_guard_padding``).
    """
    cdfs, lengths, offsets = tables.coder_args()
    dec = load_ans().RansDecoder()
    values = dec.decode_with_indexes(data, tables.index_list(shape[1:]), cdfs, lengths, offsets)
    return np.asarray(values, dtype=np.int32).reshape(shape)
