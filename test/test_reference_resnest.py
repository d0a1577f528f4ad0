"""ladon_resnest269e equals the authors' SplittableResNet over timm ResNeSt-269e (C = 32).

Slow (two 111M-parameter models are built), so excluded from ``make test``:
``python -m pytest test/test_reference_resnest.py -m slow``.
"""
import pytest
import torch

pytestmark = pytest.mark.slow


@torch.no_grad()
def test_resnest269e_classification_and_bytes():
    timm = pytest.importorskip('timm')
    from sc2bench.models.backbone import SplittableResNet
    from sc2bench.models.layer import FPBasedResNetBottleneck

    from reference_models import perturb
    from ladon_ros.models import build_model
    from ladon_ros.reference.classes import paper_classes
    from ladon_ros.reference.keymap import combine, map_classification
    from compressai.models.utils import update_registered_buffers

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ref = SplittableResNet(FPBasedResNetBottleneck(3, 32, 256), timm.create_model('resnest269e', pretrained=False),
                           inplanes=2048, skips_avgpool=False, skips_fc=False)
    perturb(ref.bottleneck_layer, 0)
    perturb(ref.fc, 1)
    ref.eval()
    ref.update()
    net = build_model('ladon_resnest269e', classes=paper_classes()).eval()
    merged = combine(map_classification(ref.state_dict()))
    own = net.state_dict()
    # Classification file only: keep ladon's (random) detection/segmentation heads.
    state = {**{k: v for k, v in own.items() if k.startswith('tail.heads.') and k not in merged.state},
             **merged.state}
    update_registered_buffers(net.bottleneck.entropy_bottleneck, 'bottleneck.entropy_bottleneck',
                              ['_quantized_cdf', '_offset', '_cdf_length'], state)
    net.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    enc = net.robot_side().compress(x)
    assert enc['strings'][0] == ref.bottleneck_layer.encode(x)['strings'][0]
    body = net.tail.body(net.edge_side().decompress(enc['strings'], enc['shape']))
    assert torch.equal(ref(x), net.tail.heads.classification(body))
