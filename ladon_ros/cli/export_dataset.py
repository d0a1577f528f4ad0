"""``ladon-ros export-dataset``: the synthetic world as COCO / VOC / ImageFolder files."""
from __future__ import annotations


def _size(text: str) -> tuple[int, int]:
    import argparse
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected HxW (e.g. 128x128), got {text!r}') from None
    return h, w


def register(sub) -> None:
    """Adds the ``export-dataset`` subcommand."""
    p = sub.add_parser(
        'export-dataset', help='write the synthetic world as a COCO, VOC or ImageFolder dataset',
        description='Writes scenes 0..N-1 of a synthetic world in a standard layout (docs/TRAINING.md, '
                    '"Train on your robot\'s data"): the layout your own data needs, and a set that '
                    '`ladon-ros train` (data: sections) and `ladon-ros eval --dataset` read back.')
    p.add_argument('--format', required=True, choices=('coco', 'voc', 'imagefolder'))
    p.add_argument('--out', required=True, help='output folder (must be empty or absent)')
    p.add_argument('--count', type=int, default=64, help='number of scenes (default 64)')
    p.add_argument('--seed', type=int, default=0,
                   help='world seed (default 0, the training world; held-out worlds are 1000000 + N)')
    p.add_argument('--size', type=_size, default=(128, 128), help='image size HxW (default 128x128)')
    p.add_argument('--image-format', choices=('png', 'jpeg'), default='png',
                   help='png (lossless, default) or jpeg (quality 95)')
    p.set_defaults(func=run)


def run(args) -> int:
    """Writes the dataset and says where."""
    from ladon_ros.data.export import export_dataset
    try:
        info = export_dataset(args.format, args.out, count=args.count, seed=args.seed, image_size=args.size,
                              image_format=args.image_format)
    except ValueError as err:
        print(f'export-dataset: {err}')
        return 2
    print(f'wrote {info["images"]} scenes of synthetic world {args.seed} ({args.size[0]}x{args.size[1]}) '
          f'as {info["format"]} to {info["out"]}')
    return 0
