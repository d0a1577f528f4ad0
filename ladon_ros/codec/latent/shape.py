"""The latent's shape for an input size (the encoder's strides; no torch)."""
from __future__ import annotations


def latent_shape(channels: int, input_size: tuple[int, int]) -> tuple[int, int, int]:
    """(C, H, W) of the latent for ``input_size``: two stride-2 5x5 convs, then a 2x2 valid conv."""
    h, w = input_size
    for _ in range(2):
        h, w = (h + 1) // 2, (w + 1) // 2
    return (channels, h - 1, w - 1)
