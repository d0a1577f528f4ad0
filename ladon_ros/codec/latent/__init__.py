"""The Ladon latent codec: float latent -> symbols -> entropy-coded bytes, and back. No torch.

- ``tables``: the factorized prior's coding tables (CDFs, offsets, medians) as numpy
  (``EntropyTables``; built from a CompressAI ``EntropyBottleneck`` or read from a bundle).
- ``quantize``: the exact quantiser both camera back ends share: CompressAI's
  ``round(y - median)``, with values within float32 noise of a rounding boundary settled by
  an exact float64 recomputation, so every float32 engine emits the same symbols.
- ``rans``: compressai's C++ rANS coder, loaded without importing torch (byte-identical to
  ``EntropyBottleneck.compress``/``decompress`` for the same symbols).
- ``coder``: ``LatentCoder``, the one quantize -> rANS -> bitstream pipeline of a model.
"""
