"""``ladon-ros bench-bag``: bag size per robot-hour (Ladon vs JPEG vs raw) and replay frames/s."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``bench-bag`` subcommand."""
    p = sub.add_parser('bench-bag', help='bag size per robot-hour for each codec and offline replay frames/s')
    p.add_argument('--frames', type=int, default=100, help='camera frames per setting')
    p.add_argument('--size', default='640x480', help='camera WIDTHxHEIGHT')
    p.add_argument('--hz', type=float, default=10.0, help='camera rate for the per-hour figure')
    p.add_argument('--replay-frames', type=int, default=200, help='frames replayed for the throughput')
    p.add_argument('--json', default=None, help='write rows + replay figures as JSON to this file')
    p.set_defaults(func=run)


def run(args) -> int:
    """Prints the table and the replay throughput."""
    import json

    from ladon_bench.bags import format_rows, run_bag_bench
    w, h = (int(v) for v in args.size.lower().split('x'))
    rows, rep = run_bag_bench(frames=args.frames, size=(h, w), hz=args.hz, replay_frames=args.replay_frames)
    print(format_rows(rows, args.hz, (h, w)))
    print(f'replay (ladon_ros.bag.replay, {rep["torch_threads"]} torch thread): {rep["frames"]} frames in '
          f'{rep["seconds"]} s = {rep["frames_per_s"]} frames/s')
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump({'rows': rows, 'replay': rep, 'frames': args.frames, 'size': args.size, 'hz': args.hz}, fh, indent=1)
    return 0
