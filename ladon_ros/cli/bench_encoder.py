"""``ladon-ros bench-encoder``: camera-side cost per 416x416 frame on one CPU thread."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    """Adds the ``bench-encoder`` subcommand."""
    p = sub.add_parser('bench-encoder', help='time the camera side (torch / ONNX fp32 / int8 encoder, '
                                             'entropy coding, JPEG, local ResNet-50) on one thread')
    p.add_argument('--model', default='ladon_resnet50', type=_ladon_model,
                   help='architecture (default: the paper configuration)')
    p.add_argument('--checkpoint', default=None, help='Ladon checkpoint (default: random weights of --model)')
    p.add_argument('--iters', type=int, default=20, help='timed repetitions per row (median)')
    p.add_argument('--no-int8', action='store_true', help='skip the int8 encoder')
    p.add_argument('--clock', choices=['thread', 'wall'], default='thread',
                   help='thread: CPU time of the (single) benchmark thread, robust on a shared machine '
                        '(default); wall: elapsed time')
    p.add_argument('--json', default=None, help='write the rows as JSON to this file')
    p.set_defaults(func=run)


def _ladon_model(name: str) -> str:
    """argparse type of ``--model``: a registered Ladon architecture."""
    from ladon_ros.models import list_models
    ladon = [m for m in list_models() if m.startswith('ladon_')]
    if name not in ladon:
        raise argparse.ArgumentTypeError(f'unknown Ladon model {name!r}; known: {", ".join(ladon)}')
    return name


def run(args) -> int:
    """Prints the table, the ratio to the local ResNet-50 and the targets."""
    import json

    from ladon_bench.encoder import TARGET_MS, TARGET_RATIO, run_encoder_bench
    from ladon_bench.timing import format_table, write_rows
    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.weights import is_random, random_checkpoint
    ckpt = args.checkpoint or random_checkpoint(args.model)
    meta = read_metadata(ckpt)
    if is_random(meta):
        print(f'note: {meta.model_id} with RANDOM weights: entropy-coding time and bytes depend on the '
              'latent, a trained model codes fewer bytes')
    rows, summary = run_encoder_bench(checkpoint=ckpt, iters=args.iters, int8=not args.no_int8,
                                      clock=args.clock)
    print(format_table(rows, ['name', 'ms_per_frame', 'symbol_agreement']))
    s = summary
    print(f"encoder + entropy coding (ORT fp32): {s['encoder_plus_entropy_ms']:.1f} ms "
          f"(target <= {TARGET_MS:.0f} ms: {'met' if s['meets_25ms_target'] else 'NOT met'})")
    if 'camera_total_over_resnet50' in s:
        print(f"camera_total / resnet50_local = {s['camera_total_over_resnet50']:.3f} "
              f"(target <= {TARGET_RATIO}: {'met' if s['meets_ratio_target'] else 'NOT met'})")
    print('details: ' + json.dumps({k: v for k, v in s.items() if k not in ('encoder_plus_entropy_ms',)}))
    write_rows(rows, args.json)
    return 0
