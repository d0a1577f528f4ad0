"""The torch back end of the edge: a loaded checkpoint's decoder, body and heads on torch."""
from __future__ import annotations

import numpy as np
import torch

from ladon_ros.checkpoint import CheckpointError, CheckpointMeta
from ladon_ros.codec.latent.tables import EntropyTables
from ladon_ros.codec.preprocess import to_tensor
from ladon_ros.edge.backend import HEADS, StageTimes, select, split
from ladon_ros.results import HeadOutputs


class TorchEdgeModel:
    """A Ladon model's edge side (decoder + tail) or a teacher (stem + tail) on torch.

    Args:
        model: ``Ladon`` (entropy tables updated, as ``load_checkpoint`` leaves it) or ``Teacher``.
        meta: Its metadata.
        device: Torch device.
    """

    engine = 'torch'

    def __init__(self, model: torch.nn.Module, meta: CheckpointMeta, device: str = 'cpu'):
        if meta.kind not in ('ladon', 'teacher'):
            raise CheckpointError(f'{meta.model_id!r}: unknown kind {meta.kind!r}')
        self.meta, self.device = meta, torch.device(device)
        model = model.to(self.device).eval()
        if meta.kind == 'ladon':
            self.tables = EntropyTables.from_entropy_bottleneck(model.bottleneck.entropy_bottleneck)
            self.side = model.edge_side()
            self.decoder, self.stem = self.side.bottleneck.decoder, None
        else:
            self.tables, self.side, self.decoder = None, None, None
            self.stem = model.stem
        self.tail = model.tail

    @torch.no_grad()
    def decode(self, latent: np.ndarray) -> torch.Tensor:
        """(1, C, h, w) float32 latent -> ``layer1`` features."""
        return self.decoder(torch.from_numpy(latent).to(self.device))

    def image_input(self, rgb: np.ndarray) -> torch.Tensor:
        """Normalised image tensor (1, 3, H, W); the stem runs batched in ``run``."""
        return to_tensor(rgb, self.meta.mean, self.meta.std).to(self.device)

    def finite(self, features: torch.Tensor) -> bool:
        """Whether all values are finite."""
        return bool(torch.isfinite(features).all())

    @torch.no_grad()
    def run(self, inputs: list, wants: list[frozenset[str]], times: StageTimes) -> list[HeadOutputs]:
        """Body on the frames that want any head, each head on the frames that want it."""
        active = [i for i, w in enumerate(wants) if w & set(HEADS)]
        if not active:
            return [HeadOutputs() for _ in inputs]
        sub_wants = [wants[i] for i in active]
        heads = self.tail.heads

        def body():
            x = torch.cat([inputs[i] for i in active])
            return self.tail.body(self.stem(x) if self.stem is not None else x)
        feats = times.timed('network', len(active), body)

        def on(head: str, fn):
            idx = select(sub_wants, head)
            if not idx:
                return None
            part = {k: v[idx] for k, v in feats.items()} if len(idx) < len(active) else feats
            return times.timed(head, len(idx), fn, part)

        cls = on('classification', lambda f: heads.classification(f).softmax(dim=1).cpu().numpy())
        det = on('detection', lambda f: [{k: v.cpu().numpy() for k, v in d.items()} for d in heads.detection(f)])
        seg = on('segmentation', lambda f: heads.segmentation(f).argmax(dim=1).cpu().numpy())
        out = [HeadOutputs() for _ in inputs]
        for i, o in zip(active, split(len(active), sub_wants, cls, det, seg)):
            out[i] = o
        return out
