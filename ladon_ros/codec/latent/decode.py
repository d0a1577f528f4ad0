"""The edge half of the latent codec: payload body -> verified, dequantised latent. No torch.

The inverse of ``LatentCoder.body`` with the checks a hostile or broken robot needs, in
the order the edge has always applied them:

1. the body length against the latent shape (``rans.check_ladon_body``: bounds the work);
2. rANS decoding of a zero-padded copy (``rans.rans_guard_padding``: the C++ decoder
   reads 32-bit words with no end check);
3. symbols -> latent (``symbol + median``, float32, exactly CompressAI's ``dequantize``),
   refused when any value is not finite or beyond ``MAX_LATENT_MAGNITUDE``;
4. optionally, the re-encode check: an honest body is exactly the encoding of the symbols
   it decodes to (rANS decodes ANY byte string to some symbols).
"""
from __future__ import annotations

import threading

import numpy as np

from ladon_ros.codec.latent.rans import check_ladon_body, decode_symbols, encode_symbols, rans_guard_padding
from ladon_ros.codec.latent.tables import EntropyTables
from ladon_ros.errors import FrameRejected

# Decoded latent symbols beyond this magnitude cannot come from an honest encoder (latents of
# trained and random models stay within a few hundred); garbage that decodes to them is refused.
MAX_LATENT_MAGNITUDE = 65536.0


class LatentDecoder:
    """Decodes and verifies the latent bodies of one Ladon model.

    Args:
        tables: The model's entropy tables (``EntropyTables``).
    """

    def __init__(self, tables: EntropyTables):
        self.tables = tables
        self._medians = tables.medians.astype(np.float32)[:, None, None]
        # One zeroed buffer, reused: body at its start, zeros after it. A fresh padded copy
        # per frame (1.7 MB for a 12x31x31 latent) cost ~1 ms, mostly page faults.
        self._buffer = bytearray()
        self._lock = threading.Lock()

    def symbols(self, body: bytes, shape: tuple[int, int, int]) -> np.ndarray:
        """Steps 1-2: (C, h, w) int32 symbols of a body (length-checked, decoded from a padded copy).

        Raises:
            FrameRejected: ``'too_large'``.
        """
        check_ladon_body(len(body), shape)
        c, h, w = shape
        # Zero padding keeps every word the C++ rANS decoder may read inside the string it
        # was given; a valid stream never reads it. More zeros than needed are as safe.
        n = len(body)
        size = n + rans_guard_padding(n, c * h * w)
        with self._lock:
            if len(self._buffer) < size:
                self._buffer = bytearray(size)
            buf = self._buffer
            buf[:n] = body
            try:
                return decode_symbols(buf, shape, self.tables)
            finally:
                buf[:n] = bytes(n)  # zeros again for the next, maybe shorter, body

    def dequantize(self, symbols: np.ndarray) -> np.ndarray:
        """Step 3 without the check: (1, C, h, w) float32 latent (``symbol + median``)."""
        return (symbols.astype(np.float32) + self._medians)[None]

    @staticmethod
    def check_latent(latent: np.ndarray) -> None:
        """Step 3's check.

        Raises:
            FrameRejected: ``'bad_symbols'``.
        """
        if not bool(np.isfinite(latent).all()) or float(np.abs(latent).max()) > MAX_LATENT_MAGNITUDE:
            raise FrameRejected('bad_symbols', f'latent symbols outside +-{MAX_LATENT_MAGNITUDE:g} '
                                '(garbage with a valid checksum?)')

    def verify(self, symbols: np.ndarray, body: bytes) -> None:
        """Step 4: the body must be the encoding of its symbols (about as costly as the decode).

        Raises:
            FrameRejected: ``'bad_encoding'``.
        """
        if encode_symbols(symbols, self.tables) != bytes(body):
            raise FrameRejected('bad_encoding', 'the body is not the encoding of the symbols it decodes to '
                                '(random or mangled bytes with a valid checksum?)')

    def latent(self, body: bytes, shape: tuple[int, int, int], *, verify: bool = True) -> np.ndarray:
        """Steps 1-4: the (1, C, h, w) float32 latent of a body.

        Raises:
            FrameRejected: ``'too_large'``, ``'bad_symbols'``, ``'bad_encoding'``.
        """
        symbols = self.symbols(body, shape)
        latent = self.dequantize(symbols)
        self.check_latent(latent)
        if verify:
            self.verify(symbols, body)
        return latent
