"""The authors' three task checkpoints -> one ``ladon_ros`` safetensors checkpoint.

Usage (CLI): ``ladon-ros convert-checkpoint --classification C.pt --detection D.pt
--segmentation S.pt --out ladon_resnet50_beta0.32.safetensors``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ladon_ros.models.compressai_import import update_registered_buffers

from ladon_ros.checkpoint import CheckpointMeta, save_checkpoint
from ladon_ros.models.registry import build_model, model_kind
from ladon_ros.reference.authors_ckpt import load_authors_state_dict
from ladon_ros.reference.classes import paper_classes
from ladon_ros.reference.keymap import (ConversionError, combine, map_classification, map_detection,
                                        map_segmentation)

_CDF_BUFFERS = ['_quantized_cdf', '_offset', '_cdf_length']
_BETA = re.compile(r'beta(\d+(?:\.\d+)?)')


@dataclass(frozen=True)
class ConversionResult:
    """What ``convert_authors_checkpoints`` wrote.

    Attributes:
        meta: The metadata of the written checkpoint.
        overridden: Shared tensors that differed between the task files (last file wins).
        dropped: Reference keys not converted (training-only modules).
        tables_from_file: True when the entropy-coder tables were taken from the files as
            stored (bit-exact with the authors' coder); False when built here by ``update()``.
    """

    meta: CheckpointMeta
    overridden: tuple[str, ...]
    dropped: tuple[str, ...]
    tables_from_file: bool


def rate_point_from_name(path: str | Path) -> float:
    """The beta in the authors' file names (``...-fp-beta0.32_from_resnet50.pt`` -> 0.32)."""
    m = _BETA.search(Path(path).name)
    if m is None:
        raise ConversionError(f'no "beta<value>" in {Path(path).name!r}; pass the rate point explicitly')
    return float(m.group(1))


def convert_state_dicts(cls_state: dict, det_state: dict, seg_state: dict, *, model: str = 'ladon_resnet50',
                        **overrides):
    """Builds a ``Ladon`` model holding the authors' weights.

    Args:
        cls_state: ``SplittableResNet`` state dict (classification file).
        det_state: Faster R-CNN FPN state dict (detection file).
        seg_state: DeepLabv3 state dict (segmentation file).
        model: ``ladon_ros`` registry name of the matching architecture.
        **overrides: ``ModelSpec`` fields to change (e.g. ``input_size`` for tests).

    Returns:
        ``(model, combined)``: the model in eval mode with entropy tables ready, and the
        ``keymap.Combined`` merge report.
    """
    if model_kind(model) != 'ladon':
        raise ConversionError(f'{model!r} is not a Ladon architecture')
    merged = combine(map_classification(cls_state), map_detection(det_state), map_segmentation(seg_state))
    net = build_model(model, classes=paper_classes(), **overrides)
    own = net.state_dict()
    missing = sorted(set(own) - set(merged.state))
    unexpected = sorted(set(merged.state) - set(own))
    if missing or unexpected:
        raise ConversionError(f'the files do not make a {model!r}: missing {missing[:5]} ({len(missing)}), '
                              f'unexpected {unexpected[:5]} ({len(unexpected)})')
    for key, value in merged.state.items():
        if key.split('.')[-1] in _CDF_BUFFERS:
            continue
        if own[key].shape != value.shape:
            raise ConversionError(f'{key}: shape {tuple(value.shape)} in the files, {tuple(own[key].shape)} '
                                  f'in {model!r}')
    # The CDF tables have data-dependent sizes: resize the buffers to the stored ones first.
    update_registered_buffers(net.bottleneck.entropy_bottleneck, 'bottleneck.entropy_bottleneck',
                              _CDF_BUFFERS, merged.state)
    net.load_state_dict(merged.state, strict=True)
    net.eval()
    net.update(force=False)  # builds the tables only if the files had none (saved before update())
    return net, merged


def convert_authors_checkpoints(*, classification: str | Path, detection: str | Path, segmentation: str | Path,
                                out: str | Path, model: str = 'ladon_resnet50',
                                rate_point: float | None = None) -> ConversionResult:
    """Converts the authors' classification, COCO detection and VOC segmentation files.

    Args:
        classification: ``ilsvrc2012-splittable_resnet50-fp-beta*_from_resnet50.pt``.
        detection: ``coco2017-faster_rcnn_splittable_resnet50-fp-beta*_fpn.pt``.
        segmentation: ``pascal_voc2012-deeplabv3_splittable_resnet50-fp-beta*.pt``.
        out: The ``.safetensors`` file to write.
        model: Registry name (``ladon_resnet50``).
        rate_point: Training beta; parsed from the classification file name when None.

    Returns:
        A ``ConversionResult``.
    """
    out = Path(out)
    if out.suffix != '.safetensors':
        raise ConversionError(f'output must be a .safetensors file, got {out.name!r}')
    if rate_point is None:
        rate_point = rate_point_from_name(classification)
    states = [load_authors_state_dict(p) for p in (classification, detection, segmentation)]
    net, merged = convert_state_dicts(*states, model=model)
    tables_from_file = merged.state['bottleneck.entropy_bottleneck._offset'].numel() > 0
    notes = (f'converted from the authors\' checkpoints: classification={Path(classification).name}, '
             f'detection={Path(detection).name}, segmentation={Path(segmentation).name}; entropy tables '
             f'{"as stored" if tables_from_file else "built by update()"}; '
             f'{len(merged.overridden)} shared tensors differed between files (last file kept)')
    meta = save_checkpoint(net, out, rate_point=rate_point, notes=notes, rebuild_tables=False)
    return ConversionResult(meta, tuple(merged.overridden), tuple(merged.dropped), tables_from_file)
