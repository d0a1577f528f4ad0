"""compressai's C++ rANS coder (``compressai.ans``) without importing torch, and its bounds.

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

from ladon_ros.codec.bitstream import BitstreamError
from ladon_ros.codec.latent.tables import EntropyTables

# A Ladon body larger than this many bytes per latent symbol is refused before entropy
# decoding: trained and random-weight models need < 1 byte/symbol, so 2 bytes (16 bits)
# per symbol is far above anything an honest encoder writes, and it bounds the decode work.
MAX_LADON_BYTES_PER_SYMBOL = 2


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
    which hands it a zero-padded copy (``rans_guard_padding``).
    """
    cdfs, lengths, offsets = tables.coder_args()
    dec = load_ans().RansDecoder()
    values = dec.decode_with_indexes(data, tables.index_list(shape[1:]), cdfs, lengths, offsets)
    return np.asarray(values, dtype=np.int32).reshape(shape)


def rans_guard_padding(body_len: int, n_symbols: int) -> int:
    """Zero bytes to append to a rANS body so the decoder can never read past owned memory.

    CompressAI's C++ rANS decoder (``RansDecoder.decode_with_indexes``) reads 32-bit words
    with no end check: a crafted body with a valid CRC makes it read past the string. The
    decoder's 64-bit state holds < 64 bits and each read adds 32 bits, so the words read
    are bounded by the bits it consumes: at most 16 per regular symbol and 4 per bypass
    nibble. Bypass nibbles are bounded by the escape nibbles (value 15) it has seen times
    16; escape nibbles come either from the body (2 per byte) or from the at most 16
    nibbles of state left after a zero word is shifted in, per symbol. That gives at most
    ``16 * body_len + 140 * n_symbols + 136`` bytes read beyond the start of the body
    after the 8-byte init; the padding covers it with margin. Zeros are never read by a
    well-formed stream, so padding does not change what a valid frame decodes to.

    Args:
        body_len: Length of the entropy-coded body, bytes.
        n_symbols: Latent symbols the decoder will decode (C * H * W).

    Returns:
        Number of zero bytes to append.
    """
    return 16 * int(body_len) + 144 * int(n_symbols) + 256


def check_ladon_body(body_len: int, shape: tuple[int, int, int]) -> None:
    """Refuses a Ladon body too large for its latent shape (bounds decode work and padding).

    Raises:
        BitstreamError: ``'too_large'``.
    """
    c, h, w = shape
    limit = MAX_LADON_BYTES_PER_SYMBOL * c * h * w + 64
    if body_len > limit:
        raise BitstreamError('too_large', f'{body_len} body bytes for a {c}x{h}x{w} latent (limit {limit})')
