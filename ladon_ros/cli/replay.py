"""``ladon-ros replay BAG``: the edge's perception on a recorded bag, offline (or ``--publish`` it to ROS)."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Adds the ``replay`` subcommand."""
    p = sub.add_parser('replay', help='run edge perception on a recorded latent bag offline (JSON lines, PNGs), '
                                      'or play it into ROS topics (--publish)')
    p.add_argument('bag', help='bag folder (metadata.yaml + .mcap) or a .mcap file')
    p.add_argument('--out', default=None, help='output folder (default: out/replay/<bag name>)')
    p.add_argument('--pngs', type=int, default=0, metavar='N', help='draw every N-th served frame to <out>/png')
    p.add_argument('--rate', type=float, default=0.0,
                   help='0 = as fast as possible (default), 1 = at the recorded rate, 2 = twice as fast')
    p.add_argument('--max-frames', type=int, default=0, help='stop after this many latent frames (0 = all)')
    p.add_argument('--checkpoint', nargs='+', default=None,
                   help='Ladon checkpoints the edge serves (default: every shipped rate point)')
    p.add_argument('--no-teacher', action='store_true', help='do not serve image-codec frames (no teacher model)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=1, help='torch CPU threads (default 1)')
    p.add_argument('--publish', action='store_true',
                   help='instead, publish the stored messages on their ROS topics (like ros2 bag play; needs rclpy)')
    p.set_defaults(func=run, needs_ros=lambda args: args.publish)  # --publish starts a ROS node


def build_edge(checkpoints, teacher: bool, device: str):
    """The ``EdgePerception`` a replay uses: the given or all shipped Ladon rate points (+ teacher)."""
    from ladon_ros.edge import EdgePerception
    from ladon_ros.weights import default_checkpoint, ladon_rate_points
    paths = checkpoints or [str(p) for p, _ in ladon_rate_points()]
    return EdgePerception.from_checkpoints(paths, default_checkpoint('teacher') if teacher else None, device=device)


def run(args) -> int:
    """Replays; prints the totals (served, rejected by reason, frames/s)."""
    if args.publish:
        from ladon_ros.ros.tools.bag_play import play
        play(args.bag, rate=args.rate or 1.0)
        return 0
    import torch

    from ladon_ros.bag.replay import replay
    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else Path('out') / 'replay' / Path(args.bag).resolve().name
    from ladon_ros.bag.rosbag2 import mcap_files
    try:
        mcap_files(args.bag)
    except (OSError, ValueError) as err:
        print(f'[ERROR] {err}')
        return 2
    edge = build_edge(args.checkpoint, not args.no_teacher, args.device)
    report = replay(args.bag, edge, out=out, pngs=args.pngs, rate=args.rate, max_frames=args.max_frames)
    s = report.summary()
    print(f'{s["frames"]} latent frames: {s["served"]} served, rejected {s["rejected"] or "none"}; '
          f'robots {s["robots"]}; {s["frames_per_s"]} frames/s ({args.threads} thread(s))')
    print(f'results: {out / "results.jsonl"}' + (f', PNGs: {out / "png"}' if args.pngs else ''))
    return 0
