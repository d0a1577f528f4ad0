"""``ladon-ros bench-robot``: peak RSS and spawn-to-first-output time of the robot-side nodes."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``bench-robot`` subcommand."""
    p = sub.add_parser('bench-robot', help='peak RSS and spawn-to-first-message time of image_source and '
                                           'camera_encoder processes (needs the ROS wheels and ladon_ros.msg)')
    p.add_argument('--runs', type=int, default=3, help='spawns per case (median time, max RSS)')
    p.add_argument('--domain-id', type=int, default=77, help='ROS_DOMAIN_ID of the probe and the node')
    p.add_argument('--serve-s', type=float, default=3.0,
                   help='seconds the node serves after its first message before its peak RSS is read')
    p.add_argument('--onnx-dir', default='', help="bundle of the ONNX case ('' = the node's default)")
    p.add_argument('--cases', nargs='+', default=None,
                   help='cases to run (default all robot-side: image_source camera_encoder camera_encoder:torch '
                        'camera_encoder:onnx; camera_encoder alone = its parameter defaults; also '
                        'edge_perception (its defaults: ONNX Runtime) and edge_perception:torch, fed Ladon '
                        'frames, first = first classification result)')
    p.add_argument('--json', default=None, help='write summary and single runs as JSON to this file')
    p.set_defaults(func=run, needs_ros=True)  # starts ROS nodes: main() sets up their environment


def run(args) -> int:
    """Prints one row per case; returns 1 if a case never produced a message."""
    from ladon_bench.robot_footprint import default_cases, edge_cases, load_average, run_footprint
    from ladon_bench.timing import format_table, write_rows
    robot = default_cases(args.onnx_dir)
    cases = robot + edge_cases()
    unknown = set(args.cases or ()) - {c.name for c in cases}
    if unknown:
        print(f'unknown case(s) {sorted(unknown)}; known: {[c.name for c in cases]}')
        return 2
    cases = robot if args.cases is None else [c for c in cases if c.name in args.cases]
    summary, every = run_footprint(cases, runs=args.runs, domain_id=args.domain_id, serve_s=args.serve_s)
    print(format_table(summary, ['case', 'runs', 'failed', 'first_s', 'first_s_max', 'peak_rss_mb', 'torch']))
    print(f'load average (1 min) after the runs: {load_average()}')
    for r in every:
        if 'log_tail' in r:
            print(f"--- {r['case']}: no message; log tail:\n{r['log_tail']}")
    write_rows(summary + every, args.json)
    return 1 if any(r['failed'] for r in summary) else 0
