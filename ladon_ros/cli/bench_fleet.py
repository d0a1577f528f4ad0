"""``ladon-ros bench-fleet``: how many robots one shaped link and 1-2 edges serve (needs root; docs/FLEET_BENCH.md)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

STANDARD_CODECS = 'ladon,jpeg@50,jpeg@75,jpeg@90,webp,raw'
STANDARD_RATES = '20,5,1'


def register(sub) -> None:
    """Adds the ``bench-fleet`` subcommand."""
    p = sub.add_parser('bench-fleet', help='N robots share one tbf-shaped veth (both ways) to 1-2 edges; robots '
                                           'within a latency budget per codec (needs root)')
    p.add_argument('--codecs', default=None,
                   help=f'comma list: raw, jpeg@Q, webp@Q, png@L, ladon (every shipped rate point) or ladon@BETA. '
                        f'Any of --codecs/--link-mbps/--fps/--edges/--lossy runs that grid (the others at '
                        f'{STANDARD_CODECS} / {STANDARD_RATES} / 2,10 / 1,2) instead of the standard set')
    p.add_argument('--equal-accuracy', action=argparse.BooleanOptionalAction, default=True,
                   help='also run, per Ladon point, the JPEG and WebP quality of equal detection mAP '
                        '(interpolated in the eval of the current weights); --no-equal-accuracy to skip')
    p.add_argument('--accuracy', default='', help='ladon-ros eval --json output to pair from (default: computed '
                                                  'once per set of weights, cached in OUT/accuracy/)')
    p.add_argument('--link-mbps', default=None, help='comma list of clean link rates [Mbit/s]')
    p.add_argument('--lossy', action='store_true', default=None,
                   help='also the lossy setting (5 Mbit/s, 20 ms, 2%% loss)')
    p.add_argument('--robots', default='1,2,4,8,16,32', help='robot-count ladder, ascending (searches climb it, '
                                                             'then bisect)')
    p.add_argument('--fps', default=None, help='frame rates of every robot [Hz]')
    p.add_argument('--edges', default=None, help='edge counts (each edge pinned to its own core)')
    p.add_argument('--robot-cpu', type=float, default=0.0, help='CPU quota of each robot [cores]; 0 = none')
    p.add_argument('--budget-ms', type=float, default=250.0, help='p95 capture -> results at the robot [ms]')
    p.add_argument('--seconds', type=float, default=6.0, help='recorded window per cell [s]')
    p.add_argument('--max-bisect', type=int, default=2, help='most bisection cells per search after the ladder')
    p.add_argument('--join-mbps', type=float, default=20.0,
                   help='link rate while robots join (their discovery burst) when above the cell rate; 0 = the '
                        'cell rate (measures the join burst too)')
    p.add_argument('--resolution', type=float, default=0.2,
                   help='stop bisecting once fail - pass <= max(1, this x pass); 1 = no bisection')
    p.add_argument('--domain-id', type=int, default=48, help='ROS_DOMAIN_ID of the run')
    p.add_argument('--announce-s', type=float, default=0.0,
                   help="DDS participant announcement period [s] of every process (a what-if for the per-robot "
                        "overhead); 0 = the fleet profile's 0.5 s")
    p.add_argument('--takeover-subscriptions', default='', choices=['', 'backup', 'all', 'none'],
                   help="the edges' takeover_subscriptions; default: the node's (backup: with 2 edges every robot's "
                        "frames cross the link twice)")
    p.add_argument('--edge-param', action='append', default=[], metavar='NAME:=VALUE',
                   help="an edge_perception parameter for every edge of the run (YAML value, e.g. "
                        "receive_pause_ms:=0); repeatable; recorded in each row")
    p.add_argument('--dds-profiles', default='fleet',
                   help="comma list of DDS profiles, each running every search side by side in one run: 'fleet' "
                        "(SIMPLE discovery, config/fastdds_fleet.xml) and 'thin' (two discovery servers in the "
                        "base namespace, robots clients and edges super clients with config/fastdds_thin_*.xml, "
                        "robots reading perception/results) and 'thin-split' (thin, robots reading the four split "
                        "result topics); their settings are named '<setting>+thin' / '<setting>+thin-split'")
    p.add_argument('--nice', type=int, default=-10,
                   help='nice value of the edges and robots (default -10: on a shared machine other jobs take '
                        'less of their cores; 0 = as any process)')
    p.add_argument('--json', default='', help='rows here (default OUT/fleet_bench.json)')
    p.add_argument('--out', default='out/bench_fleet', help='folder for tables, plots, records and logs')
    p.add_argument('--plan-only', action='store_true', help='print the searches and stop (no root needed)')
    p.add_argument('--cleanup', action='store_true', help='only remove namespaces and cgroups left by killed runs')
    p.add_argument('--from-json', default='',
                   help='no run: write table, headline and plots in --out from the rows of these fleet_bench.json '
                        'files (comma list; e.g. two partial runs)')
    p.set_defaults(func=run, needs_ros=True)  # starts ROS nodes: main() sets up their environment


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(',') if t.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(',') if t.strip())


def _profiles(text: str) -> tuple[str, ...]:
    from ladon_bench.fleet.plan import DDS_PROFILES
    profiles = tuple(dict.fromkeys(t.strip() for t in text.split(',') if t.strip()))
    bad = [p for p in profiles if p not in DDS_PROFILES]
    if bad or not profiles:
        raise SystemExit(f'--dds-profiles: expected a comma list of {DDS_PROFILES}, got {text!r}')
    return profiles


def parse_edge_params(items: list[str]) -> tuple[tuple[str, object], ...]:
    """``['receive_pause_ms:=0']`` -> ``(('receive_pause_ms', 0),)``, each checked against the
    edge's parameters (name, and value by its validation); ValueError on a bad one."""
    import yaml
    from ladon_ros.config import from_mapping
    from ladon_ros.ros.params import EdgeConfig
    out = {}
    for item in items:
        name, sep, text = item.partition(':=')
        if not sep or not name.strip():
            raise ValueError(f'--edge-param: expected NAME:=VALUE, got {item!r}')
        out[name.strip()] = yaml.safe_load(text)
    cfg = from_mapping(EdgeConfig, out)  # unknown names, wrong types and out-of-range values
    # the validated values (0 -> 0.0 for a float parameter: the node declares it a double;
    # tuples back to lists, as a parameter override spells them)
    validated = {k: getattr(cfg, k) for k in out}
    return tuple((k, list(v) if isinstance(v, tuple) else v) for k, v in validated.items())


def is_standard(args) -> bool:
    """No grid flag given: the standard set."""
    return all(getattr(args, k) is None for k in ('codecs', 'link_mbps', 'fps', 'edges', 'lossy'))


def build_plan(args, points, pairs: dict) -> tuple[list, list]:
    """(cases, searches) of the run: the standard set, or the grid of the flags (+ equal accuracy)."""
    from ladon_bench.fleet import plan as planning
    from ladon_bench.fleet.accuracy import extra_settings
    from ladon_bench.link.cases import LOSSY_RATE_MBPS, parse_codecs, parse_rates
    ladon = [c.label for c in parse_codecs('ladon', points)]
    betas = [c.rate_point for c in parse_codecs('ladon', points)]
    if is_standard(args):
        mid = ladon[len(ladon) // 2]
        equal = extra_settings(pairs, betas) if args.equal_accuracy else []
        searches = planning.standard_plan(mid, ladon, equal, LOSSY_RATE_MBPS)
    else:
        cases = parse_codecs(args.codecs or STANDARD_CODECS, points)
        labels = [c.label for c in cases]
        if args.equal_accuracy:
            labels += [x for x in extra_settings(pairs, [c.rate_point for c in cases if c.codec == 'ladon'])
                       if x not in labels]
        searches = planning.grid_plan(labels, parse_rates(args.link_mbps or STANDARD_RATES),
                                      _floats(args.fps or '2,10'), _ints(args.edges or '1,2'),
                                      LOSSY_RATE_MBPS if args.lossy else None)
    # Case labels as the cases spell them ('webp' -> 'webp@<its default quality>').
    label = {t: parse_codecs(t, points)[0].label for t in dict.fromkeys(s.codec for s in searches)}
    searches = [dataclasses.replace(s, codec=label[s.codec]) for s in searches]
    searches = planning.with_profiles(searches, _profiles(getattr(args, 'dds_profiles', 'fleet')))
    return parse_codecs(','.join(dict.fromkeys(label.values())), points), searches


def run(args) -> int:
    """Runs the benchmark; 0 = done, 1 = a veth check failed, 2 = cannot run here."""
    if args.from_json:
        return report_only(args)
    if not args.plan_only:
        from ladon_bench.link.preflight import preflight
        code = preflight('bench-fleet', robot_cpu=args.robot_cpu, cleanup=args.cleanup)
        if code is not None:
            return code
    from ladon_bench.fleet.accuracy import equal_accuracy, load_or_evaluate, weights_key
    from ladon_bench.fleet.harness import FleetBench, FleetConfig
    from ladon_bench.fleet.report import headline_table, markdown_table, overhead_table, write_json
    from ladon_bench.link.cases import ladon_points
    from ladon_ros.config import from_mapping
    t_start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault('LADON_ROS_CACHE', str((out / 'weights_cache').resolve()))
    points = ladon_points()
    if any(r for _, _, r in points):
        print('!!! Ladon: no shipped checkpoint, RANDOM WEIGHTS !!!')
    pairs, acc = {}, None
    if args.equal_accuracy:
        rows, acc = load_or_evaluate(out, args.accuracy)
        pairs = equal_accuracy(rows)
        for beta, p in sorted(pairs.items()):
            print(f'equal detection accuracy ({acc.name}): ladon@{beta:g} mAP {p["ladon"]["metric"]:.3f}, '
                  f'{p["ladon"]["bytes"]:.0f} B -> ' + ', '.join(
                      f'{c}@{p[c]["run"]} (q {p[c]["quality"]:.1f}, {p[c]["bytes"]:.0f} B, bytes ratio '
                      f'{p[c]["bytes_ratio"]:.2f})' if p.get(c) else f'{c}: no quality reaches it'
                      for c in ('jpeg', 'webp')))
    try:
        edge_params = parse_edge_params(args.edge_param)
        cases, searches = build_plan(args, points, pairs)
    except ValueError as err:  # a bad --codecs list or --edge-param: the user's to fix, not a crash
        print(f'bench-fleet: {err}', file=sys.stderr)
        return 2
    print(f'{"standard set" if is_standard(args) else "grid of the flags"}: {len(searches)} searches')
    for s in searches:
        print(f'  {s.codec:>10} {s.setting} {s.link_mbps:>4g} Mbit/s {s.fps:>4g} Hz {s.edges} edge(s)  [{s.why}]')
    if args.plan_only:
        return 0
    cfg = from_mapping(FleetConfig, dict(
        cases=tuple(cases), rates_mbps=tuple(sorted({s.link_mbps for s in searches if s.setting.startswith('clean')})),
        searches=tuple(searches), out_dir=out, robots=_ints(args.robots), fps=tuple(sorted({s.fps for s in searches})),
        edges=tuple(sorted({s.edges for s in searches})), lossy=any(s.setting.startswith('lossy') for s in searches),
        robot_cpu=args.robot_cpu, budget_ms=args.budget_ms, seconds=args.seconds,
        resolution=args.resolution, max_bisect=args.max_bisect,
        domain_id=args.domain_id, nice=args.nice, announce_s=args.announce_s, join_mbps=args.join_mbps,
        takeover_subscriptions=args.takeover_subscriptions, edge_params=edge_params))
    json_path = Path(args.json) if args.json else out / 'fleet_bench.json'
    bench = FleetBench(cfg)
    bench.skipped = []
    meta = {'started_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t_start)), 'standard': is_standard(args),
            'weights_key': weights_key(), 'accuracy_file': str(acc) if acc else None,
            'loadavg_start': os.getloadavg(), 'nice': args.nice, 'announce_s': args.announce_s,
            'join_mbps': args.join_mbps, 'takeover_subscriptions': args.takeover_subscriptions,
            'dds_profiles': args.dds_profiles, 'edge_params': dict(edge_params), 'argv': sys.argv[1:]}

    def save(rows):
        meta['duration_s'] = time.time() - t_start
        (out / 'fleet_table.md').write_text(markdown_table(rows))
        (out / 'fleet_headline.md').write_text(headline_table(rows, pairs, bench.skipped))
        (out / 'fleet_overhead.md').write_text(overhead_table(rows))
        write_json(rows, json_path, pairs, bench.skipped, meta)

    try:
        rows = bench.run(on_row=lambda r: save(bench.rows))  # partial results survive an interrupted run
    finally:
        meta['loadavg_end'] = os.getloadavg()
        save(bench.rows)
        if bench.rows:
            write_plots(bench.rows, out, cfg.budget_ms, bench.skipped)
    print(markdown_table(rows))
    print(headline_table(rows, pairs, bench.skipped))
    print(overhead_table(rows))
    print(f'duration {meta["duration_s"] / 60:.1f} min; wrote {json_path}, {out / "fleet_table.md"}, '
          f'{out / "fleet_headline.md"}, plots in {out}')
    return _veth_verdict(rows)


def write_plots(rows, out: Path, budget_ms: float, skipped=()) -> list[Path]:
    """``fleet_vs_robots.png`` and ``fleet_within_budget.png`` in ``out``."""
    from ladon_bench.fleet.report import plot_vs_robots, plot_within_budget
    return [plot_vs_robots(rows, out / 'fleet_vs_robots.png', budget_ms),
            plot_within_budget(rows, out / 'fleet_within_budget.png', skipped)]


def report_only(args) -> int:
    """Table, headline, JSON and plots from the rows of earlier runs (``--from-json``)."""
    from ladon_bench.fleet.accuracy import equal_accuracy
    from ladon_bench.fleet.metrics import FleetRow, add_queue_floor
    from ladon_bench.fleet.report import headline_table, markdown_table, write_json
    docs = [json.loads(Path(f).read_text()) for f in args.from_json.split(',') if f.strip()]
    rows = [add_queue_floor(FleetRow.from_json(d)) for doc in docs for d in doc['rows']]
    skipped = [s for doc in docs for s in doc.get('skipped', [])]
    pairs = {}
    if args.accuracy:
        pairs = equal_accuracy(json.loads(Path(args.accuracy).read_text()))
    else:  # the pairs the runs used
        for doc in docs:
            pairs.update({float(k): v for k, v in doc.get('equal_accuracy_pairs', {}).items() if 'ladon' in v})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'fleet_table.md').write_text(markdown_table(rows))
    (out / 'fleet_headline.md').write_text(headline_table(rows, pairs, skipped))
    write_json(rows, Path(args.json) if args.json else out / 'fleet_bench.json', pairs, skipped,
               {'merged_from': args.from_json})
    write_plots(rows, out, args.budget_ms, skipped)
    print(markdown_table(rows))
    print(headline_table(rows, pairs, skipped))
    return _veth_verdict(rows)


def _veth_verdict(rows) -> int:
    bad = [(r.codec, r.link_mbps, r.robots) for r in rows
           if r.extra.get('veth_up_covers_served') is False or r.extra.get('veth_down_covers_received') is False]
    if bad:
        print(f'!!! veth counters show fewer bytes than were received for {bad}: a transport bypassed the link !!!')
        return 1
    return 0
