"""Rate that follows the link, shown: the tbf rate changes mid-stream (20 -> 2 -> 10 Mbit/s).

Two runs over identical fresh links: ``fixed`` (the encoder keeps its first rate point)
and ``adaptive`` (``ladon_ros.ros.rate_adapter_node`` gates the camera and switches the
encoder's rate point from the edge's feedback). Output: per-phase p50/p95 latency and
delivered fps of both, a JSON file, and a plot of latency and chosen rate point over time.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from ladon_bench.link.floor import percentile
from ladon_bench.link.harness import ROBOT_NS, LinkBench, BenchConfig, RecordReader
from ladon_bench.link.cases import CodecCase
from ladon_bench.link.netns import NetnsLink
from ladon_ros.rate.points import shipped_points
from ladon_ros.rate.setting import EncoderSetting
from ladon_ros.ros.processes import node_command

SCHEDULE = ((20.0, 25.0), (2.0, 25.0), (10.0, 25.0))  # (Mbit/s, seconds)
# An image-codec ladder for when fewer than three Ladon rate points are shipped (richest first).
IMAGE_LADDER = ('raw', 'png@1', 'jpeg@100', 'jpeg@95', 'jpeg@90', 'jpeg@75', 'jpeg@50', 'jpeg@20')


def default_points() -> list[str]:
    """Every shipped Ladon rate point (richest first) when there are >= 3, else ``IMAGE_LADDER``."""
    pts = shipped_points()
    return [str(p) for p in pts] if len(pts) >= 3 else list(IMAGE_LADDER)


class AdaptiveRun(LinkBench):
    """Runs ``fixed`` and ``adaptive`` over the same link schedule."""

    def __init__(self, points: list[str], *, out_dir: Path, budget_ms: float, schedule=SCHEDULE, fps: float = 10.0,
                 width: int = 640, height: int = 480, domain_id: int = 46, queue_ms: float = 400.0, log=print):
        dummy = (CodecCase('adaptive', EncoderSetting('jpeg', quality=90)),)
        super().__init__(BenchConfig(cases=dummy, rates_mbps=(schedule[0][0],), out_dir=out_dir, fps=fps,
                                     width=width, height=height, domain_id=domain_id, queue_ms=queue_ms,
                                     lossy=False), log)
        self.points, self.budget_ms, self.schedule = list(points), budget_ms, tuple(schedule)
        self.settings = [EncoderSetting.parse(s) for s in self.points]
        self.identity = {s: st.frame_identity() for s, st in zip(self.points, self.settings)}

    def run_mode(self, mode: str) -> dict:
        """One run (``'fixed'`` or ``'adaptive'``); returns its records and phase boundaries."""
        cfg = self.cfg
        rec_path = self.out / f'adaptive_records_{mode}.jsonl'
        rec_path.unlink(missing_ok=True)
        reader = RecordReader(rec_path)
        ladon = sorted({str(s.checkpoint_path()) for s in self.settings if s.codec == 'ladon'})
        with NetnsLink() as link:
            link.shape(self.schedule[0][0], queue_ms=cfg.queue_ms)
            self._spawn(link, 'edge', node_command('edge_perception', params={
                'robot_namespaces': [ROBOT_NS], 'checkpoints': ladon or [''], 'serve_image_codecs': True,
                'publish_debug_image': False}), f'adaptive_edge_{mode}.log')
            self._spawn(link, 'edge', [sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', 'record', '--out',
                                       str(rec_path), '--robot-ns', ROBOT_NS], f'adaptive_recorder_{mode}.log')
            self._spawn(link, 'camera', node_command('image_source', namespace=ROBOT_NS, params={
                'rate_hz': float(cfg.fps), 'width': cfg.width, 'height': cfg.height}),
                f'adaptive_source_{mode}.log', pin=False)
            # adaptive: the adapter gates the camera; the encoder reads its image_gated.
            gate = {'image_raw': 'image_gated'} if mode == 'adaptive' else None
            enc = node_command('camera_encoder', namespace=ROBOT_NS, remap=gate,
                               params=self.settings[0].encoder_params())
            if mode == 'adaptive':
                self._spawn(link, 'camera', node_command('rate_adapter', namespace=ROBOT_NS, params={
                    'points': self.points, 'budget_ms': float(self.budget_ms), 'camera_fps': float(cfg.fps),
                    'start_point': 0}), f'adaptive_adapter_{mode}.log')
            self._spawn(link, 'camera', enc, f'adaptive_encoder_{mode}.log')
            deadline = time.monotonic() + cfg.start_timeout_s
            while not any(r.get('kind') == 'stats' for r in reader.poll()) and time.monotonic() < deadline:
                time.sleep(0.2)
            t_start = time.time()
            phases = []
            for mbps, seconds in self.schedule:
                link.shape(mbps, queue_ms=cfg.queue_ms)
                phases.append((time.time() - t_start, mbps))
                self.log(f'[{mode}] link -> {mbps:g} Mbit/s for {seconds:g} s')
                time.sleep(seconds)
            t_end = time.time()
            reader.poll()
        recs = [dict(r, t=r['t'] - t_start) for r in reader.rows if r.get('kind') == 'stats' and t_start <= r['t'] <= t_end]
        return {'mode': mode, 'records': recs, 'phases': phases, 'duration_s': t_end - t_start}

    def run_both(self) -> dict:
        """Fixed, then adaptive; returns summaries + records."""
        runs = {m: self.run_mode(m) for m in ('fixed', 'adaptive')}
        labels = {v: k for k, v in self.identity.items()}
        summary = []
        for mode, r in runs.items():
            bounds = [p[0] for p in r['phases']] + [r['duration_s']]
            for i, (t0, mbps) in enumerate(r['phases']):
                # Skip the first 5 s of a phase: the feedback and the policy need them.
                recs = [x for x in r['records'] if t0 + 5.0 <= x['t'] < bounds[i + 1]]
                lat = [x['total_ms'] for x in recs]
                span = bounds[i + 1] - t0 - 5.0
                used = sorted({labels.get((x['codec'], round(x['rate_point'], 3)), x['codec']) for x in recs})
                summary.append({'mode': mode, 'link_mbps': mbps, 'fps_delivered': len(recs) / span if span > 0 else 0,
                                'latency_p50_ms': percentile(lat, 50), 'latency_p95_ms': percentile(lat, 95),
                                'within_budget': sum(1 for v in lat if v <= self.budget_ms) / len(lat) if lat else 0,
                                'mean_bytes': sum(x['bytes'] for x in recs) / len(recs) if recs else math.nan,
                                'points_used': used})
        return {'budget_ms': self.budget_ms, 'points': self.points, 'schedule': self.schedule, 'summary': summary,
                'runs': runs}


def plot_adaptive(result: dict, path: Path) -> Path:
    """Latency (top) and bytes/frame of the chosen point (bottom) over time, fixed vs adaptive."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for mode, style in (('fixed', 'tab:red'), ('adaptive', 'tab:blue')):
        r = result['runs'][mode]
        t = [x['t'] for x in r['records']]
        a1.plot(t, [x['total_ms'] for x in r['records']], '.', ms=3, color=style, label=mode)
        a2.plot(t, [x['bytes'] / 1e3 for x in r['records']], '.', ms=3, color=style, label=mode)
    for t0, mbps in result['runs']['adaptive']['phases']:
        for ax in (a1, a2):
            ax.axvline(t0, color='grey', lw=0.8)
        a1.text(t0 + 0.5, a1.get_ylim()[1] * 0.9 if a1.get_ylim()[1] else 1, f'{mbps:g} Mbit/s', fontsize=8)
    a1.axhline(result['budget_ms'], color='k', ls='--', lw=0.8, label='budget')
    if any(r['records'] for r in result['runs'].values()):
        a1.set_yscale('log')
        a2.set_yscale('log')
    a1.set_ylabel('latency [ms] (served frames)')
    a2.set_ylabel('kB/frame of served frames')
    a2.set_xlabel('time [s]; vertical lines: tbf rate changed')
    a1.legend(fontsize=8)
    a1.set_title('Rate that follows the link: tbf 20 -> 2 -> 10 Mbit/s, fixed vs adaptive')
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_adaptive_cli(args, out: Path) -> int:
    """``bench-link --adaptive``."""
    points = default_points()
    schedule = tuple((m, args.phase_s) for m, _ in SCHEDULE)
    run = AdaptiveRun(points, out_dir=out, budget_ms=args.budget_ms, schedule=schedule, fps=args.fps,
                      width=args.width, height=args.height, queue_ms=args.queue_ms, domain_id=args.domain_id)
    result = run.run_both()
    js = out / 'link_adaptive.json'
    js.write_text(json.dumps({k: v for k, v in result.items()}, indent=1, default=str) + '\n')
    png = plot_adaptive(result, out / 'link_adaptive.png')
    lines = ['| mode | link Mbit/s | fps delivered | p50 ms | p95 ms | in budget | mean bytes | points used |',
             '|---|---|---|---|---|---|---|---|']
    for s in result['summary']:
        lines.append(f"| {s['mode']} | {s['link_mbps']:g} | {s['fps_delivered']:.1f} | {s['latency_p50_ms']:.0f} | "
                     f"{s['latency_p95_ms']:.0f} | {s['within_budget']:.0%} | {s['mean_bytes']:.0f} | "
                     f"{', '.join(s['points_used'])} |")
    table = '\n'.join(lines) + '\n'
    (out / 'link_adaptive.md').write_text(table)
    print(table)
    print(f'wrote {js}, {png}')
    return 0
