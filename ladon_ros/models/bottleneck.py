"""The compressing bottleneck: device-side encoder, factorized-prior entropy model, edge-side decoder.

The layer layout follows the authors' reference (sc2bench ``FPBasedResNetBottleneck``):
bias-free convolutions and CompressAI's simplified GDN (``GDN1``).
"""
from __future__ import annotations

import torch
from compressai.entropy_models import EntropyBottleneck
from compressai.layers import GDN1
from compressai.models import CompressionModel
from torch import nn
from torchvision.models.resnet import BasicBlock


def build_encoder(*, in_channels: int, bottleneck_channels: int) -> nn.Sequential:
    """Device-side analysis transform: conv5x5/s2, GDN, conv5x5/s2, GDN, conv2x2 (valid).

    Args:
        in_channels: Image channels (3).
        bottleneck_channels: Latent channels C.

    Returns:
        The encoder; output stride 4, spatial size ``ceil(ceil(s/2)/2) - 1``.
    """
    c = bottleneck_channels
    return nn.Sequential(
        nn.Conv2d(in_channels, 4 * c, kernel_size=5, stride=2, padding=2, bias=False),
        GDN1(4 * c),
        nn.Conv2d(4 * c, 2 * c, kernel_size=5, stride=2, padding=2, bias=False),
        GDN1(2 * c),
        nn.Conv2d(2 * c, c, kernel_size=2, stride=1, padding=0, bias=False),
    )


def build_decoder(*, bottleneck_channels: int, target_channels: int, widths: tuple[int, ...] = ()) -> nn.Sequential:
    """Edge-side synthesis transform to the shape of the backbone's ``layer1`` output.

    Args:
        bottleneck_channels: Latent channels C.
        target_channels: Channels of the backbone's ``layer1`` output (ResNet-50: 256).
        widths: Hidden widths of the wide decoder (``ladon_small_wide``); empty: the paper's.

    Returns:
        The decoder; it maps an (H, W) latent to (H + 1, W + 1) features.
    """
    t = target_channels
    if widths:
        return _wide_decoder(bottleneck_channels, t, widths)
    return nn.Sequential(
        nn.Conv2d(bottleneck_channels, 2 * t, kernel_size=2, stride=1, padding=1, bias=False),
        GDN1(2 * t, inverse=True),
        nn.Conv2d(2 * t, t, kernel_size=2, stride=1, padding=0, bias=False),
        GDN1(t, inverse=True),
        nn.Conv2d(t, t, kernel_size=2, stride=1, padding=1, bias=False),
    )


def _wide_decoder(c: int, t: int, widths: tuple[int, ...]) -> nn.Sequential:
    """3x3 convolutions with inverse GDN at each hidden width, the paper's final 2x2 convolution
    (H -> H + 1), then one residual block at ``layer1``'s width.

    The paper's decoder sees a 3x3 neighbourhood of latent symbols through 2x2 kernels and is
    smaller than the stem it replaces; detection reads ``layer1`` (the finest FPN level), so
    the edge side spends its compute here. The robot side is unchanged.
    """
    layers: list[nn.Module] = []
    prev = c
    for w in widths:
        layers += [nn.Conv2d(prev, w, kernel_size=3, stride=1, padding=1, bias=False), GDN1(w, inverse=True)]
        prev = w
    layers += [nn.Conv2d(prev, t, kernel_size=2, stride=1, padding=1, bias=False), BasicBlock(t, t)]
    return nn.Sequential(*layers)


class LadonBottleneck(CompressionModel):
    """Encoder + EntropyBottleneck + decoder, with CompressAI's contract.

    ``forward()`` trains (noisy quantisation, likelihoods); ``compress()`` returns the
    entropy-coded strings; ``decompress()`` returns decoder features. Call ``update()``
    once after loading weights and before ``compress()``/``decompress()``.
    """

    def __init__(self, *, bottleneck_channels: int, target_channels: int, in_channels: int = 3,
                 decoder_widths: tuple[int, ...] = ()):
        super().__init__()
        self.entropy_bottleneck = EntropyBottleneck(bottleneck_channels)
        self.encoder = build_encoder(in_channels=in_channels, bottleneck_channels=bottleneck_channels)
        self.decoder = build_decoder(bottleneck_channels=bottleneck_channels, target_channels=target_channels,
                                     widths=decoder_widths)
        self.bottleneck_channels = bottleneck_channels

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training pass.

        Args:
            x: Normalised images, (B, 3, H, W).

        Returns:
            ``features`` (decoder output) and ``likelihoods`` of the latent symbols.
        """
        y = self.encoder(x)
        y_hat, likelihoods = self.entropy_bottleneck(y)
        return {'features': self.decoder(y_hat), 'likelihoods': likelihoods, 'latent': y}

    def quantize_latent(self, y: torch.Tensor) -> torch.Tensor:
        """Rounds around the entropy model's medians, exactly as ``compress`` sees the symbols."""
        return self.entropy_bottleneck.quantize(y, 'dequantize', self._medians(y))

    def _medians(self, y: torch.Tensor) -> torch.Tensor:
        medians = self.entropy_bottleneck._get_medians().detach()
        return medians.reshape(1, -1, 1, 1).expand(y.size(0), -1, 1, 1)

    def compress(self, x: torch.Tensor) -> dict:
        """Encodes and entropy-codes images.

        Args:
            x: Normalised images, (B, 3, H, W).

        Returns:
            ``{'strings': [list of B byte strings], 'shape': (h, w)}`` of the latent.
        """
        y = self.encoder(x)
        return {'strings': [self.entropy_bottleneck.compress(y)], 'shape': tuple(y.shape[-2:])}

    def decompress(self, strings: list, shape: tuple[int, int]) -> torch.Tensor:
        """Entropy-decodes and decodes to ``layer1``-shaped features.

        Args:
            strings: ``[list of B byte strings]`` as returned by ``compress``.
            shape: (h, w) of the latent.

        Returns:
            Features, (B, target_channels, h + 1, w + 1).
        """
        return self.decoder(self.entropy_decode(strings, shape))

    def entropy_decode(self, strings: list, shape: tuple[int, int]) -> torch.Tensor:
        """Entropy-decodes ``strings`` to the dequantised latent, (B, C, h, w)."""
        return self.entropy_bottleneck.decompress(strings[0], list(shape))
