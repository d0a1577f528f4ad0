"""Frozen description of a model architecture (its classes: ``ladon_ros.tasks.TaskClasses``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ladon_ros.codec.latent.shape import latent_shape
from ladon_ros.tasks import TaskClasses

# ImageNet statistics: the paper normalises its 416x416 input with these.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
        decoder_widths: Hidden widths of a wide decoder (3x3 convolutions and a residual
            block); empty: the paper's decoder (2x2 convolutions, widths 2C_out and C_out).
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
    decoder_widths: tuple[int, ...] = ()
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
