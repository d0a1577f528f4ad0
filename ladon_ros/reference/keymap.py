"""State-dict key mapping: the authors' sc2bench modules -> ``ladon_ros`` ``Ladon``.

The authors train three models that share one ``SplittableResNet`` (bottleneck + layer2..4):

- classification: ``SplittableResNet`` -> ``bottleneck_layer.*``, ``layer{2,3,4}.*``, ``fc.*``;
- detection: ``BaseRCNN`` (torchvision Faster R-CNN) -> ``backbone.body.<shared>``,
  ``backbone.fpn.*``, ``rpn.*``, ``roi_heads.*``;
- segmentation: ``BaseSegmentationModel`` (DeepLabv3) -> ``backbone.<shared>``, ``classifier.*``,
  ``aux_classifier.*`` (FCN auxiliary head, used only in training: dropped).

Their runtime (``ladon-runtime`` configs) loads the classification file, then the detection
file and then the segmentation file into modules that share the body, so a shared tensor
present in several files ends up with the value of the last file; ``combine`` does the same
and reports every shared tensor whose value differs between files.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

_SHARED = (('bottleneck_layer.', 'bottleneck.'), ('layer2.', 'tail.body.layer2.'),
           ('layer3.', 'tail.body.layer3.'), ('layer4.', 'tail.body.layer4.'))
# Entropy-coder tables: an empty one (file saved before ``update()``) never replaces a built one.
_CDF_SUFFIXES = ('._quantized_cdf', '._offset', '._cdf_length')


class ConversionError(ValueError):
    """A reference state dict that does not have the expected layout."""


@dataclass
class TaskState:
    """One task file mapped to ``ladon_ros`` names.

    Attributes:
        shared: Bottleneck + body tensors (``bottleneck.*``, ``tail.body.*``).
        head: The task head's tensors (``tail.heads.<task>.*``).
        dropped: Reference keys deliberately not converted (training-only modules).
    """

    shared: dict[str, torch.Tensor] = field(default_factory=dict)
    head: dict[str, torch.Tensor] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def _strip_wrapper(state: dict) -> dict:
    # DataParallel / DDP checkpoints prefix every key with 'module.'.
    if state and all(k.startswith('module.') for k in state):
        return {k[len('module.'):]: v for k, v in state.items()}
    return dict(state)


def _shared_name(key: str) -> str | None:
    for src, dst in _SHARED:
        if key.startswith(src):
            return dst + key[len(src):]
    return None


def _check_tensors(state: dict, what: str) -> None:
    if not state:
        raise ConversionError(f'{what}: empty state dict')
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise ConversionError(f'{what}: entry {k!r} is a {type(v).__name__}, not a tensor')


def map_classification(state: dict[str, torch.Tensor]) -> TaskState:
    """Maps a ``SplittableResNet`` (with ``fc``) state dict."""
    state = _strip_wrapper(state)
    _check_tensors(state, 'classification')
    out = TaskState()
    for key, value in state.items():
        shared = _shared_name(key)
        if shared is not None:
            out.shared[shared] = value
        elif key.startswith('fc.'):
            out.head['tail.heads.classification.' + key] = value
        else:
            raise ConversionError(f'classification: unexpected key {key!r} (expected bottleneck_layer.*, '
                                  'layer2-4.*, fc.*)')
    if 'tail.heads.classification.fc.weight' not in out.head:
        raise ConversionError('classification: no fc.* (was the model built with skips_fc=True?)')
    return out


def map_detection(state: dict[str, torch.Tensor]) -> TaskState:
    """Maps a Faster R-CNN FPN (``BaseRCNN`` over a ``SplittableResNet``) state dict."""
    state = _strip_wrapper(state)
    _check_tensors(state, 'detection')
    out = TaskState()
    for key, value in state.items():
        if key.startswith('backbone.body.'):
            rest = key[len('backbone.body.'):]
            shared = _shared_name(rest)
            if shared is not None:
                out.shared[shared] = value
            elif rest.startswith('fc.'):
                out.dropped.append(key)  # the classifier of the backbone config; unused by detection
            else:
                raise ConversionError(f'detection: unexpected backbone key {key!r}')
        elif key.startswith('backbone.fpn.'):
            out.head['tail.heads.detection.' + key[len('backbone.'):]] = value
        elif key.startswith(('rpn.', 'roi_heads.')):
            out.head['tail.heads.detection.' + key] = value
        else:
            raise ConversionError(f'detection: unexpected key {key!r}')
    return out


def map_segmentation(state: dict[str, torch.Tensor]) -> TaskState:
    """Maps a DeepLabv3 (``BaseSegmentationModel`` over a ``SplittableResNet``) state dict."""
    state = _strip_wrapper(state)
    _check_tensors(state, 'segmentation')
    out = TaskState()
    for key, value in state.items():
        if key.startswith('backbone.'):
            shared = _shared_name(key[len('backbone.'):])
            if shared is None:
                raise ConversionError(f'segmentation: unexpected backbone key {key!r}')
            out.shared[shared] = value
        elif key.startswith('classifier.'):
            out.head['tail.heads.segmentation.' + key] = value
        elif key.startswith('aux_classifier.'):
            out.dropped.append(key)  # FCN auxiliary head: a training loss only
        else:
            raise ConversionError(f'segmentation: unexpected key {key!r}')
    return out


@dataclass
class Combined:
    """The merged ``ladon_ros`` state and what merging found.

    Attributes:
        state: ``Ladon`` state dict (entropy tables possibly empty: then built on save).
        overridden: ``'<task>: <key>'`` for shared tensors whose value in a later file differs
            from the earlier one (the later one is kept, as the authors' runtime does).
        dropped: Reference keys not converted.
    """

    state: dict[str, torch.Tensor]
    overridden: list[str]
    dropped: list[str]


def combine(classification: TaskState, detection: TaskState | None = None,
            segmentation: TaskState | None = None) -> Combined:
    """Merges the task files in the authors' runtime load order (cls, det, seg)."""
    state = dict(classification.shared)
    state.update(classification.head)
    overridden, dropped = [], list(classification.dropped)
    for task, part in (('detection', detection), ('segmentation', segmentation)):
        if part is None:
            continue
        for key, value in part.shared.items():
            if key.endswith(_CDF_SUFFIXES) and value.numel() == 0:
                continue
            old = state.get(key)
            if old is None:
                raise ConversionError(f'{task}: shared tensor {key!r} is not in the classification file')
            if old.shape != value.shape or not torch.equal(old, value):
                overridden.append(f'{task}: {key}')
            state[key] = value
        state.update(part.head)
        dropped.extend(part.dropped)
    return Combined(state, overridden, dropped)
