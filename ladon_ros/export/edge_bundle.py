"""``ladon-ros export --edge``: a checkpoint -> the folder a torch-free edge runs from (needs torch).

The layout and its reader are in ``ladon_ros.edge.bundle``. Every graph but detection takes
a dynamic batch; the detection graph takes one frame (torchvision's proposal and NMS loops
are unrolled per image when traced), and the edge loops over the frames that want it.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ladon_ros.edge.bundle import EDGE_BUNDLE_FORMAT
from ladon_ros.export.onnx_graph import OPSET, _FrozenGDN


class _Decoder(nn.Module):
    def __init__(self, decoder: nn.Sequential):
        super().__init__()
        self.layers = nn.ModuleList([_FrozenGDN(m) if type(m).__name__ == 'GDN1' else m for m in decoder])

    def forward(self, latent):
        for layer in self.layers:
            latent = layer(latent)
        return latent


class _Body(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, layer1):
        f = self.body(layer1)
        return f['1'], f['2'], f['3']


class _Classification(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, f3):
        return self.head({'3': f3}).softmax(dim=1)


class _Segmentation(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, f3):
        return self.head({'3': f3}).argmax(dim=1)


class _LevelRoIAlign(nn.Module):
    """torchvision's ``MultiScaleRoIAlign`` with an export-friendly merge of the levels.

    Traced, torchvision merges the per-level results with an element-wise scatter over the
    whole (rois, C, 7, 7) result, once per level: 8 of the 29 ms of the detection graph on
    ORT. Concatenating the levels and putting the rows back in order with one gather gives
    the same tensor.
    """

    def __init__(self, pool):
        super().__init__()
        self.pool = pool

    def forward(self, x, boxes, image_shapes):
        from torchvision.ops import roi_align
        from torchvision.ops.poolers import _convert_to_roi_format
        pool = self.pool
        feats = [x[k] for k in pool.featmap_names]
        if pool.scales is None or pool.map_levels is None:
            raise RuntimeError('run the detection head once before exporting it (sets the pooler scales)')
        rois = _convert_to_roi_format(boxes)
        levels = pool.map_levels(boxes)
        order, parts = [], []
        for level, (feat, scale) in enumerate(zip(feats, pool.scales)):
            idx = torch.where(levels == level)[0]
            parts.append(roi_align(feat, rois[idx], output_size=pool.output_size, spatial_scale=scale,
                                   sampling_ratio=pool.sampling_ratio))
            order.append(idx)
        return torch.cat(parts)[torch.argsort(torch.cat(order))]


class _Detection(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = copy.deepcopy(head)
        self.head.roi_heads.box_roi_pool = _LevelRoIAlign(self.head.roi_heads.box_roi_pool)

    def forward(self, f0, f1, f2, f3):
        d = self.head({'0': f0, '1': f1, '2': f2, '3': f3})[0]
        return d['boxes'], d['labels'], d['scores']


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: bool):
    axes = {n: {0: 'batch'} for n in inputs + outputs} if dynamic else None
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), input_names=inputs, output_names=outputs,
                          opset_version=OPSET, dynamo=False, do_constant_folding=True, dynamic_axes=axes)


def calibration_features(model, meta, frames: int, seed: int = 1234) -> list[np.ndarray]:
    """``layer1`` features of ``frames`` synthetic scenes as the edge sees them.

    Ladon: the camera's symbols, dequantised and decoded; teacher: its stem on the image.
    """
    from ladon_ros.codec.preprocess import to_tensor
    from ladon_ros.world import SceneGenerator
    gen = SceneGenerator(image_size=tuple(meta.input_size), seed=seed)
    out = []
    with torch.no_grad():
        for i in range(frames):
            x = to_tensor(gen.sample(i).image, meta.mean, meta.std)
            if meta.kind == 'ladon':
                bn = model.bottleneck
                out.append(bn.decoder(bn.quantize_latent(bn.encoder(x))).numpy())
            else:
                out.append(model.stem(x).numpy())
    return out


def export_edge_bundle(checkpoint: str | Path, out_dir: str | Path, *, int8: bool = False,
                       calibration_frames: int = 32, score_thresh: float | None = None,
                       max_detections: int | None = None, proposals: int | None = None) -> dict:
    """Writes the edge bundle of a Ladon or teacher checkpoint.

    Args:
        checkpoint: A ``ladon_ros`` checkpoint (safetensors).
        out_dir: Folder to write (created).
        int8: Also write ``body_int8.onnx`` (static QDQ, per-channel weights, calibrated on
            ``calibration_frames`` synthetic scenes).
        calibration_frames: Frames for the int8 calibration.
        score_thresh, max_detections: Override the checkpoint's detection score threshold and
            detections per image in the graph (``ladon-ros eval`` measures mAP with lower ones).
        proposals: Override the RPN proposals kept per image (pre- and post-NMS; the spec's
            ``rpn_post_nms_test``): the RoI head's cost scales with it (docs/BENCHMARKS.md).

    Returns:
        The ``edge.json`` content.
    """
    from ladon_ros.checkpoint import load_checkpoint
    from ladon_ros.codec.latent.tables import EntropyTables
    from ladon_ros.models.spec import latent_shape
    model, meta = load_checkpoint(checkpoint)
    rh = model.tail.heads.detection.roi_heads
    if score_thresh is not None:
        rh.score_thresh = float(score_thresh)
    if max_detections is not None:
        rh.detections_per_img = int(max_detections)
    if proposals is not None:
        rpn = model.tail.heads.detection.rpn
        rpn._pre_nms_top_n['testing'] = rpn._post_nms_top_n['testing'] = int(proposals)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tail = model.tail
    info = {'format': EDGE_BUNDLE_FORMAT, 'meta': meta.to_json(), 'opset': OPSET, 'body': 'body.onnx',
            'body_int8': None, 'classification': 'classification.onnx', 'segmentation': 'segmentation.onnx',
            'detection': 'detection.onnx'}
    h, w = meta.input_size
    if meta.kind == 'ladon':
        bn = model.bottleneck
        c = bn.bottleneck_channels
        latent = torch.zeros(2, *latent_shape(c, meta.input_size))
        _export(_Decoder(bn.decoder), (latent,), out / 'decoder.onnx', ['latent'], ['layer1'], True)
        EntropyTables.from_entropy_bottleneck(bn.entropy_bottleneck).save(out / 'tables.npz')
        info.update(decoder='decoder.onnx', tables='tables.npz')
        with torch.no_grad():
            layer1 = bn.decoder(latent)
    else:
        image = torch.zeros(2, 3, h, w)
        _export(model.stem, (image,), out / 'stem.onnx', ['image'], ['layer1'], True)
        info['stem'] = 'stem.onnx'
        with torch.no_grad():
            layer1 = model.stem(image)
    _export(_Body(tail.body), (layer1,), out / 'body.onnx', ['layer1'], ['f1', 'f2', 'f3'], True)
    with torch.no_grad():
        feats = tail.body(layer1)
        tail.heads.detection(feats)  # sets the RoI pooler's scales from the feature sizes
    f = [feats[k] for k in '0123']
    heads = tail.heads
    _export(_Classification(heads.classification), (f[3],), out / 'classification.onnx', ['f3'], ['probs'], True)
    _export(_Segmentation(heads.segmentation), (f[3],), out / 'segmentation.onnx', ['f3'], ['labels'], True)
    _export(_Detection(heads.detection), tuple(x[:1] for x in f), out / 'detection.onnx',
            ['f0', 'f1', 'f2', 'f3'], ['boxes', 'labels', 'scores'], False)
    if int8:
        from ladon_ros.export.int8 import quantize_onnx_int8
        quantize_onnx_int8(out / 'body.onnx', out / 'body_int8.onnx',
                           [{'layer1': x} for x in calibration_features(model, meta, calibration_frames)])
        info['body_int8'] = 'body_int8.onnx'
    (out / 'edge.json').write_text(json.dumps(info, indent=1, sort_keys=True))
    return info
