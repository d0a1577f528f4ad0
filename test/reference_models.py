"""The authors' reference modules (sc2bench) with random, perturbed weights, for fidelity tests.

Nothing is downloaded: every torchvision/timm builder gets ``weights=None``. Every float
parameter and buffer is perturbed away from its default initialisation, so a tensor mapped
to the wrong place (or left at its default) cannot go unnoticed.
"""
from collections import OrderedDict

import torch
from sc2bench.models.backbone import FeatureExtractionBackbone, SplittableResNet
from sc2bench.models.detection.rcnn import BaseRCNN, create_faster_rcnn_fpn
from sc2bench.models.layer import FPBasedResNetBottleneck
from sc2bench.models.segmentation.deeplabv3 import create_deeplabv3
from torchvision.models import resnet50

_CDF = ('_quantized_cdf', '_offset', '_cdf_length')


@torch.no_grad()
def perturb(module: torch.nn.Module, seed: int) -> None:
    """Perturbs every float parameter / BN statistic, keeping scales (and GDN params positive)."""
    g = torch.Generator().manual_seed(seed)
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        leaf = name.split('.')[-1]
        if not t.is_floating_point() or leaf in _CDF or 'lower_bound' in name or 'pedestal' in name \
                or leaf in ('target', 'bound'):
            continue
        if leaf == 'quantiles':
            t.add_(torch.rand(t.shape[0], 1, 1, generator=g) - 0.5)  # shift medians, keep order
        elif leaf == 'running_var':
            t.mul_(0.5 + torch.rand(t.shape, generator=g))
        elif leaf in ('beta', 'gamma'):  # GDN (stored as square roots): stay positive
            t.mul_(1.0 + 0.1 * torch.rand(t.shape, generator=g))
        else:
            t.mul_(1.0 + 0.1 * torch.randn(t.shape, generator=g))
            t.add_(0.01 * torch.randn(t.shape, generator=g))


def classification_model(channels: int = 24, seed: int = 0) -> SplittableResNet:
    """SplittableResNet over FPBasedResNetBottleneck(3, C, 256) on ResNet-50, with avgpool + fc."""
    torch.manual_seed(seed)
    model = SplittableResNet(FPBasedResNetBottleneck(3, channels, 256), resnet50(weights=None),
                             skips_avgpool=False, skips_fc=False)
    perturb(model, seed)
    with torch.no_grad():  # a latent spanning several integers exercises the entropy coder
        model.bottleneck_layer.encoder[-1].weight.mul_(8.0)
    model.eval()
    model.update()  # builds the entropy coder tables, as the authors' runtime does
    return model


def detection_model(backbone: SplittableResNet, size: int, seed: int = 1, **kwargs) -> BaseRCNN:
    """Faster R-CNN FPN over the shared backbone, wired as in the authors' COCO configs."""
    torch.manual_seed(seed)
    frcnn = create_faster_rcnn_fpn(
        backbone, num_classes=91,
        return_layer_dict=OrderedDict([('bottleneck_layer', '1'), ('layer2', '2'), ('layer3', '3'), ('layer4', '4')]),
        in_channels_list=[256, 512, 1024, 2048], out_channels=256, analyzable_layer_key='bottleneck_layer',
        min_size=size, max_size=size, **kwargs)
    model = BaseRCNN(frcnn)
    for name in ('fpn',):
        perturb(getattr(model.backbone, name), seed)
    perturb(model.rpn, seed + 1)
    perturb(model.roi_heads, seed + 2)
    return model.eval()


def segmentation_model(backbone: SplittableResNet, seed: int = 2):
    """DeepLabv3 (+ FCN aux head) on layer4 of the shared backbone, as in the VOC configs."""
    torch.manual_seed(seed)
    body = FeatureExtractionBackbone(backbone, {'layer3': 'aux', 'layer4': 'out'}, [],
                                     analyzable_layer_key='bottleneck_layer')
    model = create_deeplabv3(body, num_input_channels=2048, uses_aux=True, num_aux_channels=1024, num_classes=21)
    perturb(model.classifier, seed)
    perturb(model.aux_classifier, seed + 1)
    return model.eval()
