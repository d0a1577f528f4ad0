"""``ladon-ros bench-link``: the pipeline over a real shaped link (needs root; see docs/LINK.md)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    """Adds the ``bench-link`` subcommand."""
    from ladon_bench.link.cases import STANDARD_CODECS, STANDARD_RATES_MBPS
    p = sub.add_parser('bench-link', help='end-to-end benchmark over two network namespaces and a tbf-shaped veth '
                                          '(needs root)')
    p.add_argument('--codecs', default=STANDARD_CODECS, type=_codec_list,
                   help=f"comma list: raw, jpeg@Q, webp@Q, png@L, ladon (every rate point) or ladon@BETA, local "
                        f"(default {STANDARD_CODECS})")
    p.add_argument('--link-mbps', default=','.join(f'{r:g}' for r in STANDARD_RATES_MBPS), type=_rate_list,
                   help='comma list of clean link rates [Mbit/s]')
    p.add_argument('--no-lossy', action='store_true', help='skip the lossy setting (5 Mbit/s, 2%% loss, 20 ms)')
    p.add_argument('--frames', type=int, default=100, help='camera frames offered per cell')
    p.add_argument('--fps', type=float, default=10.0, help='camera frame rate [Hz]')
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--queue-ms', type=float, default=400.0, help='tbf queue limit (radio buffer) [ms]')
    p.add_argument('--domain-id', type=int, default=47, help='ROS_DOMAIN_ID of the run')
    p.add_argument('--json', default='', help='write the rows here (default OUT/link_bench.json; the adaptive '
                                                'run always writes OUT/link_adaptive.json)')
    p.add_argument('--out', default='out/bench_link', help='folder for table, plots, records and logs')
    p.add_argument('--adaptive-only', action='store_true',
                   help='only the rate-adaptation run (tbf 20 -> 2 -> 10 Mbit/s mid-stream, adaptive vs fixed)')
    p.add_argument('--no-adaptive', action='store_true', help='skip the rate-adaptation run')
    p.add_argument('--budget-ms', type=float, default=250.0, help='latency budget of the adaptive run [ms]')
    p.add_argument('--phase-s', type=float, default=25.0, help='seconds per link rate in the adaptive run')
    p.add_argument('--robot-cpu', type=float, default=0.0,
                   help='CPU quota of the robot side (encoder, local baseline) [cores], cgroup v1; 0 = none')
    p.add_argument('--camera-process', default='separate', type=_camera_list,
                   help="comma list of the robot camera's layouts, each case measured in each, side by side: "
                        "'separate' (image_source + camera_encoder processes, the image over DDS) and 'composed' "
                        "(robot_camera: one process, the image handed over in-process; rows '<codec>+composed')")
    p.add_argument('--cleanup', action='store_true', help='only remove namespaces and cgroups left by killed runs')
    p.set_defaults(func=run, needs_ros=True)  # starts ROS nodes: main() sets up their environment


def _codec_list(text: str) -> str:
    """argparse type of ``--codecs``: every token is a codec setting or ``local`` (rate points are checked later)."""
    from ladon_ros.rate.setting import EncoderSetting
    for token in filter(None, (t.strip() for t in text.split(','))):
        if token != 'local':
            try:
                EncoderSetting.parse(token)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _camera_list(text: str) -> tuple[str, ...]:
    """argparse type of ``--camera-process``: the layouts, distinct ones of ``CAMERA_PROCESSES``."""
    from ladon_bench.link.harness import check_camera_processes
    layouts = tuple(t.strip() for t in text.split(',') if t.strip())
    try:
        check_camera_processes(layouts)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f'{text!r}: {err}') from None
    return layouts


def _rate_list(text: str) -> str:
    """argparse type of ``--link-mbps``: a comma list of rates ``parse_rates`` accepts."""
    from ladon_bench.link.cases import parse_rates
    try:
        parse_rates(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a comma list of rates in [0.01, 10000] Mbit/s: {text!r}') from None
    return text


def run(args) -> int:
    """Runs the benchmark; returns 0, or 2 when this machine cannot build the link."""
    from ladon_bench.link.preflight import preflight
    code = preflight('bench-link', robot_cpu=args.robot_cpu, cleanup=args.cleanup)
    if code is not None:
        return code
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.adaptive_only:
        from ladon_bench.link.adaptive_run import run_adaptive_cli
        return run_adaptive_cli(args, out)
    from ladon_bench.link.cases import ladon_points, parse_codecs, parse_rates
    from ladon_bench.link.harness import BenchConfig, LinkBench
    from ladon_bench.link.report import markdown_table, plot_latency_vs_rate, write_json
    from ladon_ros.config import from_mapping
    import os
    # Random fallback weights go to a cache of this run: a cache shared with older code
    # may hold weights of an architecture that has changed since.
    os.environ.setdefault('LADON_ROS_CACHE', str((out / 'weights_cache').resolve()))
    points = ladon_points()
    if any(r for _, _, r in points):
        print('!!! Ladon: no shipped checkpoint, RANDOM WEIGHTS: bytes/frame and accuracy are not those of a '
              'trained model !!!')
    cfg = from_mapping(BenchConfig, dict(
        cases=tuple(parse_codecs(args.codecs, points)), rates_mbps=parse_rates(args.link_mbps), out_dir=out,
        lossy=not args.no_lossy, frames=args.frames, fps=args.fps, width=args.width, height=args.height,
        queue_ms=args.queue_ms, domain_id=args.domain_id, robot_cpu=args.robot_cpu,
        camera_processes=args.camera_process))
    rows = LinkBench(cfg).run()
    table = markdown_table(rows)
    (out / 'link_table.md').write_text(table)
    json_path = write_json(rows, args.json or out / 'link_bench.json')
    png = plot_latency_vs_rate(rows, out / 'link_latency_vs_rate.png')
    print(table)
    print(f'wrote {json_path}, {out / "link_table.md"}, {png}')
    from ladon_bench.link.harness import publisher_probe
    import json
    probe = publisher_probe(out, domain_id=44)
    (out / 'link_publisher_probe.json').write_text(json.dumps(probe, indent=1) + '\n')
    print(f'keep-latest probe ({probe["bytes"]} B at {probe["fps"]:g} Hz into {probe["link_mbps"]:g} Mbit/s): '
          f'{probe["published"]} published in {probe["talker_done_s"]:.1f} s, publish() p50 '
          f'{probe.get("publish_ms_p50", float("nan")):.2f} ms max {probe.get("publish_ms_max", float("nan")):.2f} ms, '
          f'tbf backlog max {probe["qdisc_backlog_max_bytes"]} B (bound {probe["queue_bound_bytes"]} B), '
          f'{probe["frames_received"]} frames complete at the edge')
    bad = [r.codec for r in rows if r.extra.get('veth_covers_served_bytes') is False]
    if bad:
        print(f'!!! veth counters show fewer bytes than were served for {bad}: a transport bypassed the link !!!')
        return 1
    if not args.no_adaptive:
        from ladon_bench.link.adaptive_run import run_adaptive_cli
        return run_adaptive_cli(args, out)
    return 0
