"""One registry of model architectures: ``list_models()``, ``build_model(name, ...)``.

Builders are keyword-only and build random weights; trained weights come from a
checkpoint (``ladon_ros.checkpoint``), which also carries the class names.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from torch import nn

from ladon_ros.world import CLASSES as SYNTHETIC_CLASSES
from ladon_ros.models.ladon import Ladon, Teacher
from ladon_ros.models.spec import ModelSpec
from ladon_ros.tasks import TaskClasses

_SPECS: dict[str, ModelSpec] = {}
_KINDS: dict[str, Callable[..., nn.Module]] = {}


def register_model(spec: ModelSpec, *, kind: str) -> None:
    """Registers an architecture.

    Args:
        spec: The architecture.
        kind: ``'ladon'`` (compressed, split) or ``'teacher'`` (uncompressed ceiling).
    """
    if spec.name in _SPECS:
        raise ValueError(f'model {spec.name!r} is already registered')
    _SPECS[spec.name] = spec
    _KINDS[spec.name] = {'ladon': Ladon, 'teacher': Teacher}[kind]


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_SPECS)


def model_spec(name: str) -> ModelSpec:
    """The registered spec of ``name``; raises ``KeyError`` with the known names."""
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f'unknown model {name!r}; known models: {", ".join(list_models())}') from None


def model_kind(name: str) -> str:
    """``'ladon'`` or ``'teacher'``."""
    model_spec(name)
    return 'ladon' if _KINDS[name] is Ladon else 'teacher'


def build_model(name: str, *, classes: TaskClasses | None = None, **overrides) -> nn.Module:
    """Builds a registered model with random weights (nothing is downloaded).

    Args:
        name: Registry name (see ``list_models()``).
        classes: Class names per task (default: the spec's); sets the head sizes.
        **overrides: ``ModelSpec`` fields to change (e.g. ``input_size``).

    Returns:
        A ``Ladon`` or ``Teacher`` module.
    """
    spec = model_spec(name)
    if classes is not None:
        overrides['classes'] = classes
    if overrides:
        spec = dataclasses.replace(spec, **overrides)
    return _KINDS[name](spec=spec)


# --- The registered architectures -------------------------------------------------

# Paper configuration (LADON.md): ResNet-50 body, C = 24, 416x416, COCO/VOC/ImageNet heads.
_PAPER = ModelSpec(
    name='ladon_resnet50', input_size=(416, 416), bottleneck_channels=24, stem_channels=256,
    body='resnet50', classes=TaskClasses.generic(1000, 91, 21))
register_model(_PAPER, kind='ladon')
register_model(dataclasses.replace(_PAPER, name='teacher_resnet50'), kind='teacher')
# The authors' larger variant: ResNeSt-269e body (timm), C = 32 (ladon-runtime configs).
register_model(dataclasses.replace(_PAPER, name='ladon_resnest269e', bottleneck_channels=32, body='resnest269e'),
               kind='ladon')

# Small configuration for a CPU and the synthetic world (the embedded default). Sized so
# the whole training (teacher + 3 rate points) fits about an hour on 2 CPU cores and each
# shipped checkpoint (fp16) stays under 3 MB; see docs/TRAINING.md. 50 RPN proposals at test
# time (the scenes hold at most 7 objects): the RoI head's cost scales with them, and 300 -> 100
# -> 50 left every model's mAP unchanged within 0.005 (docs/BENCHMARKS.md, "RPN proposals").
_SMALL = ModelSpec(
    name='ladon_small', input_size=(128, 128), bottleneck_channels=12, stem_channels=48,
    body='basic', body_widths=(64, 96, 128), body_blocks=(1, 1, 1), dilate_layer4=True,
    fpn_channels=40, roi_hidden=128, aspp_channels=48, aspp_rates=(2, 4, 6),
    rpn_anchor_sizes=(12, 22, 40, 64, 96), det_score_thresh=0.3, det_max_per_image=50,
    rpn_post_nms_test=50, classes=SYNTHETIC_CLASSES)
register_model(_SMALL, kind='ladon')
register_model(dataclasses.replace(_SMALL, name='teacher_small'), kind='teacher')
# The same robot side (encoder, entropy model: the same bitstream) with a wider edge-side
# decoder (3x3 convolutions 96/64 wide + a residual block: 133 k parameters, 3x the paper decoder).
register_model(dataclasses.replace(_SMALL, name='ladon_small_wide', decoder_widths=(96, 64)), kind='ladon')
