"""``ladon-ros convert-checkpoint``: the authors' three task files -> one safetensors checkpoint."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``convert-checkpoint`` subcommand."""
    p = sub.add_parser(
        'convert-checkpoint', help="convert the Ladon authors' .pt files to a ladon_ros checkpoint",
        description="Combines the authors' classification (ImageNet), detection (COCO Faster R-CNN) and "
                    'segmentation (VOC DeepLabv3) files of one rate point, as their runtime config does, '
                    'into one safetensors checkpoint. The .pt files are read with '
                    'torch.load(weights_only=True): no pickled code is executed.')
    p.add_argument('--classification', required=True, help='ilsvrc2012-splittable_resnet50-fp-beta*_from_resnet50.pt')
    p.add_argument('--detection', required=True, help='coco2017-faster_rcnn_splittable_resnet50-fp-beta*_fpn.pt')
    p.add_argument('--segmentation', required=True, help='pascal_voc2012-deeplabv3_splittable_resnet50-fp-beta*.pt')
    p.add_argument('--out', required=True, help='output .safetensors file')
    p.add_argument('--model', default='ladon_resnet50', help='ladon_ros architecture (default: ladon_resnet50)')
    p.add_argument('--rate-point', type=float, default=None,
                   help='training beta (default: parsed from "beta<value>" in the classification file name)')
    p.set_defaults(func=run)


def run(args) -> int:
    """Converts and prints a summary; exit code 2 on a refused input."""
    from ladon_ros.reference.convert import convert_authors_checkpoints
    from ladon_ros.reference.keymap import ConversionError
    try:
        res = convert_authors_checkpoints(classification=args.classification, detection=args.detection,
                                          segmentation=args.segmentation, out=args.out, model=args.model,
                                          rate_point=args.rate_point)
    except ConversionError as err:
        print(f'convert-checkpoint: {err}')
        return 2
    m = res.meta
    print(f'wrote {args.out}: model={m.model_id} rate_point={m.rate_point} hash={m.short_hash} '
          f'classes={len(m.classes.classification)}/{len(m.classes.detection)}/{len(m.classes.segmentation)}')
    print(f'entropy tables: {"as stored in the files" if res.tables_from_file else "built by update()"}; '
          f'dropped {len(res.dropped)} training-only tensors')
    if res.overridden:
        print(f'WARNING: {len(res.overridden)} shared tensors differ between the files; the later file was '
              f'kept (as the authors\' runtime does), e.g. {res.overridden[0]}')
    return 0
