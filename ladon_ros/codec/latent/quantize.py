"""One definition of the latent symbols, whatever float32 engine computed the latent.

The symbols are ``round(y - median)`` (CompressAI's rule). Two float32 engines (torch,
ONNX Runtime, int8 aside) compute ``y`` with different summation orders and differ by about
1e-6 relative, so a value within that distance of a rounding boundary (a half-integer of
``y - median``) can round differently: a different byte stream from the same image.

The fix: a value whose float32 distance to the boundary is below ``tol = atol + rtol*max|y -
median|`` (max over its channel; far above any float32 engine error, yet only ~1e-4 of all values) is recomputed
exactly in float64 from the same uint8 pixels, through the encoder's receptive field of that
latent position (17x17 pixels), and rounded from there. Every engine whose float32 error
is below ``tol`` then emits the same symbols: outside the band its own rounding agrees with
the exact one, inside it every engine uses the exact one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Guard band (see module docstring): tol = ATOL + RTOL * (largest |y - median| of the
# channel). Measured torch / ONNX Runtime float32 errors: ~5e-7 at |y| ~ 1, 3e-6..5e-6 at |y| ~ 13,
# so the band is 15-30x wider than any error seen.
ATOL = 2e-5
RTOL = 6e-6
_PAD = 6  # image rows/cols the first latent row/col reaches before the image (4*0 - 6)


@dataclass(frozen=True)
class EncoderWeights:
    """The encoder's weights in float64 (conv5x5/s2, GDN, conv5x5/s2, GDN, conv2x2).

    Attributes:
        conv1: (4C, 3, 5, 5).
        gdn1_beta: (4C,), gdn1_gamma: (4C, 4C) (already through the non-negative reparam).
        conv2: (2C, 4C, 5, 5).
        gdn2_beta: (2C,), gdn2_gamma: (2C, 2C).
        conv3: (C, 2C, 2, 2).
        mean: (3,) and std: (3,) normalisation (RGB, 0..1 scale).
    """

    conv1: np.ndarray
    gdn1_beta: np.ndarray
    gdn1_gamma: np.ndarray
    conv2: np.ndarray
    gdn2_beta: np.ndarray
    gdn2_gamma: np.ndarray
    conv3: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    _FIELDS = ('conv1', 'gdn1_beta', 'gdn1_gamma', 'conv2', 'gdn2_beta', 'gdn2_gamma', 'conv3', 'mean', 'std')

    def __post_init__(self):
        # Every value is what a float32 engine holds (mean/std included), held as float64:
        # weights from a checkpoint and weights from encoder_weights.npz are then identical.
        for k in self._FIELDS:
            object.__setattr__(self, k, np.asarray(getattr(self, k), np.float32).astype(np.float64))

    def save(self, path: str | Path) -> None:
        """Writes ``encoder_weights.npz`` (float32 values, exactly as the model holds them)."""
        np.savez(path, **{k: getattr(self, k).astype(np.float32) for k in self._FIELDS})

    @classmethod
    def load(cls, path: str | Path) -> 'EncoderWeights':
        """Reads ``encoder_weights.npz`` (no pickle)."""
        with np.load(path, allow_pickle=False) as z:
            return cls(**{k: z[k].astype(np.float64) for k in cls._FIELDS})

    @classmethod
    def from_encoder(cls, encoder, mean, std) -> 'EncoderWeights':
        """From a ``ladon_ros`` encoder (torch ``nn.Sequential``: conv, GDN1, conv, GDN1, conv)."""
        import torch
        conv1, gdn1, conv2, gdn2, conv3 = encoder
        with torch.no_grad():
            def gdn(g):
                c = g.beta.numel()
                return (g.beta_reparam(g.beta).double().numpy(),
                        g.gamma_reparam(g.gamma).reshape(c, c).double().numpy())
            b1, g1 = gdn(gdn1)
            b2, g2 = gdn(gdn2)
            return cls(conv1.weight.double().numpy(), b1, g1, conv2.weight.double().numpy(), b2, g2,
                       conv3.weight.double().numpy(), np.asarray(mean, np.float64), np.asarray(std, np.float64))


def _windows(x: np.ndarray, k: int, stride: int, out_hw: tuple[int, int]) -> np.ndarray:
    """(K, H, W, Cin) channels last -> (K*H'*W', k*k*Cin) im2col rows in (u, v, cin) order.

    Built from ``H'*W'`` contiguous slices (channels stay innermost), which is far cheaper
    than gathering a (cin, u, v)-ordered window view.
    """
    ho, wo = out_hw
    n = x.shape[0]
    out = np.empty((n, ho, wo, k, k, x.shape[3]), x.dtype)
    for a in range(ho):
        for b in range(wo):
            out[:, a, b] = x[:, a * stride:a * stride + k, b * stride:b * stride + k, :]
    return out.reshape(n * ho * wo, -1)


def _flat_weights(w: np.ndarray) -> np.ndarray:
    """(Cout, Cin, k, k) -> (Cout, k*k*Cin) in (u, v, cin) order, matching ``_windows``."""
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def _gdn(x: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """CompressAI ``GDN1`` (simplified, forward), channels last: x / (beta + |x| gamma^T)."""
    return x * (1.0 / (np.abs(x) @ gamma.T + beta))


def exact_latent_at(rgb: np.ndarray, weights: EncoderWeights, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The float64 latent (all C channels) at latent positions (rows[k], cols[k]).

    Only the 17x17-pixel receptive field of each position is computed (channels last).

    Args:
        rgb: (H, W, 3) uint8, the image at the model's input size.
        weights: Encoder weights.
        rows, cols: Latent positions, int arrays of length K.

    Returns:
        (K, C) float64.
    """
    h, w = rgb.shape[:2]
    h1, w1 = (h + 1) // 2, (w + 1) // 2  # first conv's output size (stride 2, pad 2)
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    k = rows.size
    # Latent (i, j) sees image rows 4i-6 .. 4i+10 and the same columns (17 each).
    off17 = np.arange(17)
    r_img, c_img = 4 * rows[:, None] - _PAD + off17, 4 * cols[:, None] - _PAD + off17  # K,17
    in_r, in_c = (r_img >= 0) & (r_img < h), (c_img >= 0) & (c_img < w)
    patch = rgb[np.clip(r_img, 0, h - 1)[:, :, None], np.clip(c_img, 0, w - 1)[:, None, :]]  # K,17,17,3
    x = (patch.astype(np.float64) / 255.0 - weights.mean) / weights.std
    x *= (in_r[:, :, None] & in_c[:, None, :])[..., None]  # the first conv's zero padding
    cols1 = _windows(x, 5, 2, (7, 7))  # (K*7*7, 5*5*3)
    u = _gdn(cols1 @ _flat_weights(weights.conv1).T, weights.gdn1_beta, weights.gdn1_gamma).reshape(k, 7, 7, -1)
    # Those 7x7 first-layer positions are rows 2i-2 .. 2i+4: outside the map they are the
    # second conv's zero padding.
    off7 = np.arange(7)
    r1, c1 = 2 * rows[:, None] - 2 + off7, 2 * cols[:, None] - 2 + off7
    u *= (((r1 >= 0) & (r1 < h1))[:, :, None] & ((c1 >= 0) & (c1 < w1))[:, None, :])[..., None]
    cols2 = _windows(u, 5, 2, (2, 2))  # (K*2*2, 5*5*4C)
    v = _gdn(cols2 @ _flat_weights(weights.conv2).T, weights.gdn2_beta, weights.gdn2_gamma)
    return v.reshape(k, -1) @ _flat_weights(weights.conv3).T  # conv3 2x2 valid: (u, v, cin) rows


@dataclass
class QuantizeStats:
    """How many values the last ``quantize`` call settled exactly (for benchmarks and tests)."""

    checked: int = 0
    changed: int = 0


def quantize(y: np.ndarray, rgb: np.ndarray, medians: np.ndarray, weights: EncoderWeights,
             stats: QuantizeStats | None = None) -> np.ndarray:
    """Canonical symbols of a float32 latent.

    Args:
        y: (C, h, w) float32 latent from any float32 engine.
        rgb: (H, W, 3) uint8, the image at the model's input size that produced ``y``.
        medians: (C,) float32 entropy-model medians.
        weights: Encoder weights (for the exact recomputation).
        stats: Filled with the number of values recomputed / changed, if given.

    Returns:
        (C, h, w) int32 symbols.
    """
    d = y.astype(np.float32, copy=False) - medians.astype(np.float32)[:, None, None]  # as torch does
    sym = np.rint(d)
    r = d - sym
    np.abs(r, out=r)  # distance to the nearest integer; boundaries are at 0.5
    # Engine error scales with the magnitudes summed, i.e. with the channel's range.
    big = np.maximum(d.max(axis=(1, 2)), -d.min(axis=(1, 2)))
    band = r > (np.float32(0.5) - (ATOL + RTOL * big).astype(np.float32))[:, None, None]
    checked = changed = 0
    if band.any():
        pos = np.unique(np.argwhere(band)[:, 1:], axis=0)  # spatial positions, all channels at once
        exact = exact_latent_at(rgb, weights, pos[:, 0], pos[:, 1])  # K, C
        fixed = np.rint(exact - medians.astype(np.float64)[None, :])  # K, C
        c_idx, r_idx, k_idx = _band_entries(band, pos)
        new = fixed[k_idx, c_idx]
        checked = int(c_idx.size)
        changed = int((sym[c_idx, r_idx[0], r_idx[1]] != new).sum())
        sym[c_idx, r_idx[0], r_idx[1]] = new
    if stats is not None:
        stats.checked, stats.changed = checked, changed
    return sym.astype(np.int32)


def _band_entries(band: np.ndarray, pos: np.ndarray):
    c, i, j = np.nonzero(band)
    w = band.shape[2]
    key_all = i * w + j
    key_pos = pos[:, 0] * w + pos[:, 1]
    k = np.searchsorted(key_pos, key_all)  # np.unique sorted pos row-major, so keys are sorted
    return c, (i, j), k
