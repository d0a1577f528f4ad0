"""``ladon-ros demo``: the embedded default (synthetic source -> camera encoder -> edge over DDS).

With ``--robots N`` / ``--edges M`` (either above 1) it runs the fleet demo instead
(``ladon_ros.ros.tools.fleet_demo``): N robots, M edges sharing them, one edge killed halfway.
"""
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
    p.add_argument('--robots', type=int, default=1,
                   help='robots (image_source + camera_encoder each); above 1 (or --edges above 1) runs the fleet '
                        'demo: per-robot served rates, which edge served whom, one edge SIGKILLed halfway')
    p.add_argument('--edges', type=int, default=1, help='edge_perception nodes sharing the robots (fleet demo)')
    p.add_argument('--discovery-server', action='store_true',
                   help='fleet demo: discover through a Fast DDS Discovery Server on 127.0.0.1 (no multicast)')
    p.set_defaults(func=run, needs_ros=True)  # starts ROS nodes: main() sets up their environment


def run(args) -> int:
    """Runs the demo (needs the colcon-built ``ladon_ros.msg``; see README)."""
    if args.frames < 1 or args.rate <= 0:
        raise SystemExit('--frames must be >= 1 and --rate > 0')
    if args.robots < 1 or args.edges < 1:
        raise SystemExit('--robots and --edges must be >= 1')
    if args.robots > 1 or args.edges > 1:
        from ladon_ros.ros.tools.fleet_demo import run_fleet_demo
        out = args.out if args.out != 'out/demo' else 'out/fleet_demo'
        return run_fleet_demo(robots=args.robots, edges=args.edges, frames=args.frames, rate_hz=args.rate,
                              out=out, domain_id=args.domain_id, codec=args.codec,
                              discovery_server=args.discovery_server)
    from ladon_ros.ros.tools.demo import run_demo
    return run_demo(frames=args.frames, out=args.out, rate_hz=args.rate, codec=args.codec,
                    domain_id=args.domain_id, pngs=args.pngs)
