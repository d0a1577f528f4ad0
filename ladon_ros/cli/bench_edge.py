"""``ladon-ros bench-edge``: edge cost per frame and stage, with batches of frames from several robots."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``bench-edge`` subcommand."""
    p = sub.add_parser('bench-edge', help='edge ms per frame and stage (decode, body, each head, publish) for '
                                          'torch / ONNX Runtime fp32 / int8, one to three heads, batches')
    p.add_argument('--models', nargs='+', default=['ladon_small'])
    p.add_argument('--engines', nargs='+', default=['torch', 'onnx', 'onnx-int8'],
                   choices=['torch', 'onnx', 'onnx-int8'])
    p.add_argument('--heads', nargs='+', type=int, default=[1, 2, 3], choices=[1, 2, 3],
                   help='head sets: 1 = classification, 2 = + segmentation, 3 = + detection')
    p.add_argument('--batches', nargs='+', type=int, default=[1, 8])
    p.add_argument('--iters', type=int, default=3, help='timed repetitions (median)')
    p.add_argument('--threads', type=int, default=None,
                   help='torch and ONNX Runtime intra-op threads (default: torch all cores, ORT 1)')
    p.add_argument('--clock', choices=['wall', 'thread'], default='wall',
                   help='wall (default) or thread: CPU time of the one benchmark thread (needs --threads 1; '
                        'ms per edge core, robust on a shared machine)')
    p.add_argument('--proposals', type=int, default=None,
                   help="RPN proposals per image at test time (default: the model spec's rpn_post_nms_test)")
    p.add_argument('--json', default=None, help='write the rows as JSON to this file')
    p.set_defaults(func=run)


def run(args) -> int:
    """Prints one row per (model, engine, device, head set, batch)."""
    from ladon_bench.edge import COLUMNS, run_edge_bench
    from ladon_bench.timing import format_table, write_rows
    rows, notes = run_edge_bench(models=tuple(args.models), batches=tuple(args.batches), engines=tuple(args.engines),
                                 heads=tuple(args.heads), iters=args.iters, threads=args.threads, clock=args.clock,
                                 proposals=args.proposals)
    print(format_table(rows, COLUMNS))
    for n in dict.fromkeys(notes):
        print('note:', n)
    write_rows(rows, args.json)
    return 0
