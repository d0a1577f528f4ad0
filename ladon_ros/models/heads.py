"""The three task heads on the shared body, assembled from torchvision parts.

- classification: global average pool + fc;
- detection: Faster R-CNN (FPN over layer1..layer4, RPN, RoI heads);
- segmentation: DeepLabv3 (ASPP) on layer4, upsampled to the input size.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.segmentation.deeplabv3 import ASPP
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from ladon_ros.models.spec import ModelSpec


class ClassificationHead(nn.Module):
    """Average pool + fc on layer4."""

    def __init__(self, *, in_channels: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, feats: dict) -> torch.Tensor:
        """Returns logits, (B, num_classes)."""
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(feats['3'], 1), 1))


class DetectionHead(nn.Module):
    """Faster R-CNN with FPN over the body's four stages, in input-image pixels.

    The camera side already resized the image to the model's input size, so unlike
    torchvision's ``FasterRCNN`` there is no transform here: boxes are in input pixels.
    """

    def __init__(self, *, spec: ModelSpec, in_channels: tuple[int, ...], num_classes: int):
        super().__init__()
        c = spec.fpn_channels
        self.fpn = FeaturePyramidNetwork(list(in_channels), c, extra_blocks=LastLevelMaxPool())
        sizes = tuple((s,) for s in spec.rpn_anchor_sizes)
        anchors = AnchorGenerator(sizes=sizes, aspect_ratios=((0.5, 1.0, 2.0),) * len(sizes))
        self.rpn = RegionProposalNetwork(
            anchors, RPNHead(c, anchors.num_anchors_per_location()[0]),
            fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256, positive_fraction=0.5,
            pre_nms_top_n={'training': 2000, 'testing': spec.rpn_post_nms_test},
            post_nms_top_n={'training': 2000, 'testing': spec.rpn_post_nms_test}, nms_thresh=0.7)
        self.roi_heads = RoIHeads(
            MultiScaleRoIAlign(featmap_names=['0', '1', '2', '3'], output_size=7, sampling_ratio=2),
            TwoMLPHead(c * 7 * 7, spec.roi_hidden), FastRCNNPredictor(spec.roi_hidden, num_classes),
            fg_iou_thresh=0.5, bg_iou_thresh=0.5, batch_size_per_image=512, positive_fraction=0.25,
            bbox_reg_weights=None, score_thresh=spec.det_score_thresh, nms_thresh=0.5,
            detections_per_img=spec.det_max_per_image)
        self.input_size = tuple(spec.input_size)

    def forward(self, feats: dict, targets: list[dict] | None = None):
        """Runs detection.

        Args:
            feats: Body outputs ``'0'``..``'3'``.
            targets: Training targets (``boxes`` xyxy in input pixels, ``labels``), or None.

        Returns:
            In training, a dict of losses; otherwise a list (one per image) of dicts with
            ``boxes`` (xyxy, input pixels), ``labels`` and ``scores``.
        """
        batch = feats['3'].shape[0]
        pyramid = self.fpn(OrderedDict((k, feats[k]) for k in ('0', '1', '2', '3')))
        # The anchor generator reads only the shape/dtype/device of the image tensor:
        # an empty-channel placeholder avoids keeping the image on the edge side.
        placeholder = feats['0'].new_empty((batch, 0, *self.input_size))
        images = ImageList(placeholder, [self.input_size] * batch)
        proposals, rpn_losses = self.rpn(images, pyramid, targets)
        detections, roi_losses = self.roi_heads(pyramid, proposals, images.image_sizes, targets)
        if self.training:
            return {**rpn_losses, **roi_losses}
        return detections


class SegmentationHead(nn.Module):
    """DeepLabv3 head (ASPP, 3x3 conv, classifier) on layer4, upsampled to the input size."""

    def __init__(self, *, spec: ModelSpec, in_channels: int, num_classes: int):
        super().__init__()
        c = spec.aspp_channels
        self.classifier = nn.Sequential(
            ASPP(in_channels, list(spec.aspp_rates), c),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, num_classes, 1))
        self.input_size = tuple(spec.input_size)

    def forward(self, feats: dict) -> torch.Tensor:
        """Returns logits at input resolution, (B, num_classes, H_in, W_in)."""
        logits = self.classifier(feats['3'])
        return F.interpolate(logits, size=self.input_size, mode='bilinear', align_corners=False)


class MultiTaskHeads(nn.Module):
    """The three heads that share one body."""

    def __init__(self, *, spec: ModelSpec, body_channels: tuple[int, ...]):
        super().__init__()
        cls = spec.classes
        self.classification = ClassificationHead(
            in_channels=body_channels[3], num_classes=len(cls.classification))
        self.detection = DetectionHead(spec=spec, in_channels=body_channels, num_classes=len(cls.detection))
        self.segmentation = SegmentationHead(
            spec=spec, in_channels=body_channels[3], num_classes=len(cls.segmentation))
