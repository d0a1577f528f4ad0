"""``ladon-ros bench-fleet``: how many robots one shaped link and 1-2 edges serve (needs root; docs/FLEET_BENCH.md)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

STANDARD_CODECS = 'ladon,jpeg@50,jpeg@75,jpeg@90,webp,raw'
STANDARD_RATES = '20,5,1'


def register(sub) -> None:
    """Adds the ``bench-fleet`` subcommand."""
    p = sub.add_parser('bench-fleet', help='N robots share one tbf-shaped veth (both ways) to 1-2 edges; robots '
                                           'within a latency budget per codec (needs root)')
    p.add_argument('--codecs', default=STANDARD_CODECS,
                   help=f'comma list: raw, jpeg@Q, webp@Q, png@L, ladon (every shipped rate point) or ladon@BETA '
                        f'(default {STANDARD_CODECS})')
    p.add_argument('--equal-accuracy', action=argparse.BooleanOptionalAction, default=True,
                   help='also run, per Ladon point, the JPEG and WebP quality of equal detection mAP '
                        '(from --accuracy); --no-equal-accuracy to skip')
    p.add_argument('--accuracy', default='', help='ladon-ros eval output (default docs/figures/eval_quick.json)')
    p.add_argument('--link-mbps', default=STANDARD_RATES, help='comma list of clean link rates [Mbit/s]')
    p.add_argument('--lossy', action='store_true', help='also the lossy setting (5 Mbit/s, 20 ms, 2%% loss)')
    p.add_argument('--robots', default='1,2,4,8,16,32', help='robot counts, ascending')
    p.add_argument('--fps', default='2,10', help='frame rates of every robot [Hz]')
    p.add_argument('--edges', default='1,2', help='edge counts (each edge pinned to its own core)')
    p.add_argument('--robot-cpu', type=float, default=0.0, help='CPU quota of each robot [cores]; 0 = none')
    p.add_argument('--budget-ms', type=float, default=250.0, help='p95 capture -> results at the robot [ms]')
    p.add_argument('--seconds', type=float, default=10.0, help='recorded window per cell [s]')
    p.add_argument('--max-fails', type=int, default=2, help='stop a robot search after this many failed cells')
    p.add_argument('--domain-id', type=int, default=48, help='ROS_DOMAIN_ID of the run')
    p.add_argument('--json', default='', help='rows here (default OUT/fleet_bench.json)')
    p.add_argument('--out', default='out/bench_fleet', help='folder for tables, plots, records and logs')
    p.add_argument('--cleanup', action='store_true', help='only remove namespaces and cgroups left by killed runs')
    p.add_argument('--from-json', default='', help='no run: write table, headline and plots in --out from the rows '
                                                   'of these fleet_bench.json files (comma list; e.g. two partial runs)')
    p.set_defaults(func=run)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(',') if t.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(',') if t.strip())


def default_accuracy_file() -> Path:
    """``docs/figures/eval_quick.json`` of this checkout."""
    return Path(__file__).resolve().parents[2] / 'docs' / 'figures' / 'eval_quick.json'


def run(args) -> int:
    """Runs the benchmark; 0 = done, 1 = a veth check failed, 2 = cannot run here."""
    if args.from_json:
        return report_only(args)
    from ladon_ros.bench.link.preflight import preflight
    code = preflight('bench-fleet', robot_cpu=args.robot_cpu, cleanup=args.cleanup)
    if code is not None:
        return code
    from ladon_ros.bench.fleet.harness import FleetBench, FleetConfig
    from ladon_ros.bench.fleet.metrics import equal_accuracy_pairs
    from ladon_ros.bench.fleet.report import headline_table, markdown_table, write_json
    from ladon_ros.bench.link.cases import ladon_points, parse_codecs, parse_rates
    from ladon_ros.config import from_mapping
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault('LADON_ROS_CACHE', str((out / 'weights_cache').resolve()))
    points = ladon_points()
    if any(r for _, _, r in points):
        print('!!! Ladon: no shipped checkpoint, RANDOM WEIGHTS !!!')
    codecs = args.codecs
    pairs = {}
    acc = Path(args.accuracy) if args.accuracy else default_accuracy_file()
    if acc.is_file():
        pairs = equal_accuracy_pairs(json.loads(acc.read_text()))
    if args.equal_accuracy and pairs:
        cases = parse_codecs(codecs, points)
        have = {c.label for c in cases}
        extra = []
        for c in cases:
            pair = pairs.get(c.rate_point) if c.codec == 'ladon' else None
            for other in ('jpeg', 'webp'):
                if pair and pair.get(other):
                    label = f'{other}@{pair[other][0]:g}'
                    if label not in have:
                        have.add(label)
                        extra.append(label)
        if extra:
            print(f'equal detection accuracy ({acc.name}): adding {extra}')
            codecs = ','.join([codecs, *extra])
    cfg = from_mapping(FleetConfig, dict(
        cases=tuple(parse_codecs(codecs, points)), rates_mbps=parse_rates(args.link_mbps) if args.link_mbps else (),
        out_dir=out, robots=_ints(args.robots), fps=_floats(args.fps), edges=_ints(args.edges), lossy=args.lossy,
        robot_cpu=args.robot_cpu, budget_ms=args.budget_ms, seconds=args.seconds, max_fails=args.max_fails,
        domain_id=args.domain_id))
    json_path = Path(args.json) if args.json else out / 'fleet_bench.json'

    def save(rows):
        (out / 'fleet_table.md').write_text(markdown_table(rows))
        (out / 'fleet_headline.md').write_text(headline_table(rows, pairs))
        write_json(rows, json_path, pairs)

    bench = FleetBench(cfg)
    try:
        rows = bench.run(on_row=lambda r: save(bench.rows))  # partial results survive an interrupted run
    finally:
        save(bench.rows)
        if bench.rows:
            write_plots(bench.rows, out, cfg.budget_ms)
    print(markdown_table(rows))
    print(headline_table(rows, pairs))
    print(f'wrote {json_path}, {out / "fleet_table.md"}, {out / "fleet_headline.md"}, plots in {out}')
    return _veth_verdict(rows)


def write_plots(rows, out: Path, budget_ms: float) -> list[Path]:
    """``fleet_vs_robots.png`` and ``fleet_within_budget.png`` in ``out``."""
    from ladon_ros.bench.fleet.report import plot_vs_robots, plot_within_budget
    return [plot_vs_robots(rows, out / 'fleet_vs_robots.png', budget_ms),
            plot_within_budget(rows, out / 'fleet_within_budget.png')]


def report_only(args) -> int:
    """Table, headline, JSON and plots from the rows of earlier runs (``--from-json``)."""
    from ladon_ros.bench.fleet.metrics import FleetRow, equal_accuracy_pairs
    from ladon_ros.bench.fleet.report import headline_table, markdown_table, write_json
    rows = [FleetRow.from_json(d) for f in args.from_json.split(',') if f.strip()
            for d in json.loads(Path(f).read_text())['rows']]
    acc = Path(args.accuracy) if args.accuracy else default_accuracy_file()
    pairs = equal_accuracy_pairs(json.loads(acc.read_text())) if acc.is_file() else {}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'fleet_table.md').write_text(markdown_table(rows))
    (out / 'fleet_headline.md').write_text(headline_table(rows, pairs))
    write_json(rows, Path(args.json) if args.json else out / 'fleet_bench.json', pairs)
    write_plots(rows, out, args.budget_ms)
    print(markdown_table(rows))
    print(headline_table(rows, pairs))
    return _veth_verdict(rows)


def _veth_verdict(rows) -> int:
    bad = [(r.codec, r.link_mbps, r.robots) for r in rows
           if r.extra.get('veth_up_covers_served') is False or r.extra.get('veth_down_covers_received') is False]
    if bad:
        print(f'!!! veth counters show fewer bytes than were received for {bad}: a transport bypassed the link !!!')
        return 1
    return 0
