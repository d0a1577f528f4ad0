"""``ladon-ros demo``: the embedded default (synthetic source -> camera encoder -> edge over DDS)."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``demo`` subcommand."""
    p = sub.add_parser('demo', help='run source, camera encoder and edge as processes over DDS and report')
    p.add_argument('--frames', type=int, default=100, help='synthetic frames to send (default 100)')
    p.add_argument('--out', default='out/demo', help='folder for annotated PNGs and node logs')
    p.add_argument('--rate', type=float, default=5.0, help='source rate [Hz] (default 5)')
    p.add_argument('--codec', default='ladon', help="camera codec: ladon (default), raw, jpeg, png, webp")
    p.add_argument('--domain-id', type=int, default=47, help='ROS_DOMAIN_ID of the demo (default 47)')
    p.add_argument('--pngs', type=int, default=4, help='annotated frames to write (default 4)')
    p.set_defaults(func=run)


def run(args) -> int:
    """Runs the demo (needs the colcon-built ``ladon_ros.msg``; see README)."""
    if args.frames < 1 or args.rate <= 0:
        raise SystemExit('--frames must be >= 1 and --rate > 0')
    from ladon_ros.ros.demo import run_demo
    return run_demo(frames=args.frames, out=args.out, rate_hz=args.rate, codec=args.codec,
                    domain_id=args.domain_id, pngs=args.pngs)
