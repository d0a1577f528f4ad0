"""The camera encoder as an ONNX graph: uint8 RGB in, float32 latent out (needs torch)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

OPSET = 17


class _FrozenGDN(nn.Module):
    """CompressAI ``GDN1`` with its reparametrised beta/gamma evaluated once (same float ops)."""

    def __init__(self, gdn):
        super().__init__()
        c = gdn.beta.numel()
        with torch.no_grad():
            self.register_buffer('beta', gdn.beta_reparam(gdn.beta).detach().clone())
            self.register_buffer('gamma', gdn.gamma_reparam(gdn.gamma).reshape(c, c, 1, 1).detach().clone())
        self.inverse = gdn.inverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = F.conv2d(torch.abs(x), self.gamma, self.beta)
        if not self.inverse:
            norm = 1.0 / norm
        return x * norm


class CameraEncoderGraph(nn.Module):
    """(1, H, W, 3) uint8 RGB -> encoder -> (1, C, h, w) float32 latent, normalisation folded in.

    ``(x/255 - mean)/std`` is ``(x - 255*mean) * 1/(255*std)``: the per-channel scale is folded
    into the first convolution's weights (exact up to float rounding, and the conv's zero
    padding is unchanged because a scaled zero is zero), leaving one subtraction on the
    input. The float32 values differ from the torch camera's by ~1e-6; the canonical
    rounding (``ladon_ros.codec.latent.quantize``) makes the symbols identical anyway.
    """

    def __init__(self, encoder: nn.Sequential, mean, std):
        super().__init__()
        layers = [_FrozenGDN(m) if type(m).__name__ == 'GDN1' else m for m in encoder]
        first = layers[0]
        folded = nn.Conv2d(first.in_channels, first.out_channels, first.kernel_size, first.stride, first.padding,
                           bias=False)
        scale = 1.0 / (255.0 * torch.tensor(std, dtype=torch.float64))
        with torch.no_grad():
            folded.weight.copy_((first.weight.double() * scale.reshape(1, -1, 1, 1)).float())
        layers[0] = folded
        self.layers = nn.ModuleList(layers)
        self.register_buffer('offset', (255.0 * torch.tensor(mean, dtype=torch.float64)).float().reshape(1, 1, 1, 3))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = (rgb.to(torch.float32) - self.offset).permute(0, 3, 1, 2)
        for layer in self.layers:
            x = layer(x)
        return x


def export_encoder_onnx(encoder: nn.Sequential, mean, std, input_size: tuple[int, int], path: str | Path) -> Path:
    """Writes the encoder graph for a fixed (height, width) input.

    Returns:
        The path written.
    """
    graph = CameraEncoderGraph(encoder, mean, std).eval()
    dummy = torch.zeros(1, *input_size, 3, dtype=torch.uint8)
    path = Path(path)
    with torch.no_grad():
        torch.onnx.export(graph, (dummy,), str(path), input_names=['rgb'], output_names=['latent'],
                          opset_version=OPSET, dynamo=False, do_constant_folding=True)
    return path
