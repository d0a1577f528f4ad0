"""The shared body (backbone stages after ``layer1``) and the teacher's image stem."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.resnet import BasicBlock

from ladon_ros.models.spec import ModelSpec


def _basic_stage(in_ch: int, out_ch: int, blocks: int, stride: int, dilation: int = 1) -> nn.Sequential:
    downsample = None
    if stride != 1 or in_ch != out_ch:
        downsample = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))
    layers = [BasicBlock(in_ch, out_ch, stride=stride, downsample=downsample)]
    for _ in range(1, blocks):
        layers.append(BasicBlock(out_ch, out_ch))
    if dilation > 1:
        # BasicBlock has no dilation argument: widen its 3x3 convs in place.
        for block in layers:
            for conv in (block.conv1, block.conv2):
                if conv.stride == (1, 1):
                    conv.dilation, conv.padding = (dilation, dilation), (dilation, dilation)
    return nn.Sequential(*layers)


class SharedBody(nn.Module):
    """ResNet ``layer2``..``layer4``: one body shared by all three task heads.

    Input: ``layer1``-shaped features (decoder output or teacher stem output).
    Output: ordered dict ``'0'``: layer1 (passed through), ``'1'``..``'3'``: layer2..4.
    """

    def __init__(self, *, spec: ModelSpec):
        super().__init__()
        if spec.body == 'resnet50':
            # weights=None: architecture only; nothing is downloaded.
            net = resnet50(weights=None, replace_stride_with_dilation=[False, False, spec.dilate_layer4])
            self.layer2, self.layer3, self.layer4 = net.layer2, net.layer3, net.layer4
            self.out_channels = (256, 512, 1024, 2048)
        elif spec.body == 'resnest269e':
            # The authors' larger variant (timm ResNeSt-269e; its layer1 gives 256 ch, stride 4).
            # timm is imported only for this body; pretrained=False: nothing is downloaded.
            import timm
            net = timm.create_model('resnest269e', pretrained=False)
            self.layer2, self.layer3, self.layer4 = net.layer2, net.layer3, net.layer4
            self.out_channels = (256, 512, 1024, 2048)
        elif spec.body == 'basic':
            w2, w3, w4 = spec.body_widths
            b2, b3, b4 = spec.body_blocks
            self.layer2 = _basic_stage(spec.stem_channels, w2, b2, stride=2)
            self.layer3 = _basic_stage(w2, w3, b3, stride=2)
            self.layer4 = _basic_stage(w3, w4, b4, stride=1 if spec.dilate_layer4 else 2,
                                       dilation=2 if spec.dilate_layer4 else 1)
            self.out_channels = (spec.stem_channels, w2, w3, w4)
        else:
            raise ValueError(f'unknown body {spec.body!r}')

    def forward(self, layer1: torch.Tensor) -> 'OrderedDict[str, torch.Tensor]':
        """Runs layer2..4 and returns all four stage outputs."""
        f2 = self.layer2(layer1)
        f3 = self.layer3(f2)
        f4 = self.layer4(f3)
        return OrderedDict([('0', layer1), ('1', f2), ('2', f3), ('3', f4)])


def build_stem(*, spec: ModelSpec) -> nn.Sequential:
    """The teacher's uncompressed image stem: conv1, bn1, relu, maxpool, layer1 (stride 4).

    Args:
        spec: Model spec; ``stem_channels`` is the output width.

    Returns:
        A module mapping normalised images to ``layer1`` features.
    """
    if spec.body == 'resnet50':
        net = resnet50(weights=None)
        return nn.Sequential(OrderedDict([
            ('conv1', net.conv1), ('bn1', net.bn1), ('relu', net.relu), ('maxpool', net.maxpool),
            ('layer1', net.layer1)]))
    c = spec.stem_channels
    return nn.Sequential(OrderedDict([
        ('conv1', nn.Conv2d(3, c, kernel_size=7, stride=2, padding=3, bias=False)),
        ('bn1', nn.BatchNorm2d(c)), ('relu', nn.ReLU(inplace=True)),
        ('maxpool', nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ('layer1', _basic_stage(c, c, 1, stride=1))]))
