"""Frozen descriptions of a model architecture and of the classes it predicts."""
from __future__ import annotations

from dataclasses import dataclass, field

# ImageNet statistics: the paper normalises its 416x416 input with these.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TASKS = ('classification', 'detection', 'segmentation')


@dataclass(frozen=True)
class TaskClasses:
    """Class names per task; they travel with the checkpoint, never with ROS parameters.

    Attributes:
        classification: Scene-level class names, index = logit index.
        detection: Object class names; index 0 is the background of Faster R-CNN.
        segmentation: Per-pixel class names; index 0 is the background.
    """

    classification: tuple[str, ...]
    detection: tuple[str, ...]
    segmentation: tuple[str, ...]

    def for_task(self, task: str) -> tuple[str, ...]:
        """Returns the class names of ``task`` (one of ``TASKS``)."""
        if task not in TASKS:
            raise ValueError(f'unknown task {task!r}; expected one of {TASKS}')
        return getattr(self, task)

    def to_dict(self) -> dict[str, list[str]]:
        """Returns a JSON-friendly dict (task -> list of names)."""
        return {t: list(self.for_task(t)) for t in TASKS}

    @classmethod
    def from_dict(cls, data: dict) -> 'TaskClasses':
        """Builds from ``to_dict()`` output, validating types."""
        try:
            kw = {t: tuple(str(n) for n in data[t]) for t in TASKS}
        except (KeyError, TypeError) as err:
            raise ValueError(f'class map must name classes for each of {TASKS}: {err}') from err
        for t, names in kw.items():
            if len(names) < 2:
                raise ValueError(f'task {t!r} needs at least 2 classes, got {len(names)}')
        return cls(**kw)

    @classmethod
    def generic(cls, num_cls: int, num_det: int, num_seg: int) -> 'TaskClasses':
        """Placeholder names (``class_<i>``) for randomly initialised models."""
        return cls(
            classification=tuple(f'class_{i}' for i in range(num_cls)),
            detection=('__background__',) + tuple(f'object_{i}' for i in range(1, num_det)),
            segmentation=('background',) + tuple(f'region_{i}' for i in range(1, num_seg)),
        )


@dataclass(frozen=True)
class ModelSpec:
    """Architecture hyper-parameters of one registered model.

    Attributes:
        name: Registry name.
        input_size: (height, width) in pixels fed to the encoder (the camera image is
            resized to this, per axis).
        bottleneck_channels: Channels C of the compressed latent (paper: 24).
        stem_channels: Channels of the decoder output = the backbone's ``layer1``
            output (ResNet-50: 256, stride 4).
        body: ``'resnet50'`` (torchvision Bottleneck stages) or ``'basic'`` (BasicBlock
            stages with ``body_widths``).
        body_widths: Output channels of layer2, layer3, layer4 (``'basic'`` only).
        body_blocks: Blocks per stage for layer2..4 (``'basic'`` only).
        dilate_layer4: Replace layer4's stride with dilation (output stride 16).
        fpn_channels: Channels of the detection FPN.
        roi_hidden: Hidden width of the Faster R-CNN box head.
        aspp_channels: Channels of the DeepLabv3 ASPP.
        aspp_rates: Atrous rates of the ASPP.
        rpn_anchor_sizes: One anchor size (input pixels) per FPN level.
        det_score_thresh: Minimum score of a reported detection.
        det_max_per_image: Maximum detections per image.
        rpn_post_nms_test: Proposals kept per image at test time.
        classes: Default class names (replaced by those of a checkpoint).
    """

    name: str
    input_size: tuple[int, int]
    bottleneck_channels: int
    stem_channels: int
    body: str
    body_widths: tuple[int, int, int] = (512, 1024, 2048)
    body_blocks: tuple[int, int, int] = (4, 6, 3)
    dilate_layer4: bool = False
    fpn_channels: int = 256
    roi_hidden: int = 1024
    aspp_channels: int = 256
    aspp_rates: tuple[int, ...] = (12, 24, 36)
    rpn_anchor_sizes: tuple[int, ...] = (32, 64, 128, 256, 512)
    det_score_thresh: float = 0.05
    det_max_per_image: int = 100
    rpn_post_nms_test: int = 1000
    classes: TaskClasses = field(default_factory=lambda: TaskClasses.generic(1000, 91, 21))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the latent this model makes."""
        return latent_shape(self.bottleneck_channels, self.input_size)


def latent_shape(channels: int, input_size: tuple[int, int]) -> tuple[int, int, int]:
    """(C, H, W) of the latent for ``input_size``: two stride-2 5x5 convs, then a 2x2 valid conv."""
    h, w = input_size
    for _ in range(2):
        h, w = (h + 1) // 2, (w + 1) // 2
    return (channels, h - 1, w - 1)
