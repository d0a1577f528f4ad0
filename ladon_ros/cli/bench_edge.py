"""``ladon-ros bench-edge``: edge frames/s with batches of frames from several robots."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``bench-edge`` subcommand."""
    p = sub.add_parser('bench-edge', help='edge frames/s for batch 1, 4, 8 (paper and small configuration)')
    p.add_argument('--models', nargs='+', default=['ladon_resnet50', 'ladon_small'])
    p.add_argument('--batches', nargs='+', type=int, default=[1, 4, 8])
    p.add_argument('--iters', type=int, default=2, help='timed repetitions (median)')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: all cores)')
    p.add_argument('--clock', choices=['wall', 'thread'], default='wall',
                   help='wall (default) or thread: CPU time of the one benchmark thread (needs --threads 1; '
                        'frames/s per core, robust on a shared machine)')
    p.add_argument('--json', default=None, help='write the rows as JSON to this file')
    p.set_defaults(func=run)


def run(args) -> int:
    """Prints one row per (model, device, batch)."""
    from ladon_ros.bench.edge import run_edge_bench
    from ladon_ros.bench.timing import format_table, write_rows
    rows, notes = run_edge_bench(models=tuple(args.models), batches=tuple(args.batches), iters=args.iters,
                                 threads=args.threads, clock=args.clock)
    print(format_table(rows, ['name', 'batch', 'ms_per_frame', 'fps']))
    for n in notes:
        print('note:', n)
    write_rows(rows, args.json)
    return 0
