"""Markdown table, JSON rows and plots of the link benchmark (matplotlib, no ROS)."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ladon_bench.link.floor import BenchRow


def _f(x, fmt: str = '.0f') -> str:
    return '-' if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def markdown_table(rows: list[BenchRow]) -> str:
    """One line per row: the contract columns, then the per-stage p50s and the checks."""
    head = ('| codec | setting | link Mbit/s | bytes/frame | fps offered | fps delivered | drop | '
            'p50 ms | p95 ms | floor ms | p50/floor | encode | ser+tx | decode | heads | edge wait | '
            'fps published | slope ms/s | veth ok |')
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for r in rows:
        e = r.extra
        lines.append('| ' + ' | '.join([
            r.codec, r.setting, _f(r.link_mbps, 'g'), _f(r.bytes_per_frame), _f(r.fps_offered, '.1f'),
            _f(r.fps_delivered, '.1f'), _f(r.drop_rate, '.0%'), _f(r.latency_p50_ms), _f(r.latency_p95_ms),
            _f(r.floor_ms), _f(e.get('measured_over_floor'), '.2f'), _f(e.get('encode_ms_p50', e.get('compute_ms_p50')), '.1f'),
            _f(e.get('serialise_transmit_ms_p50'), '.1f'), _f(e.get('decode_ms_p50'), '.1f'),
            _f(e.get('heads_ms_p50'), '.1f'), _f(e.get('edge_wait_ms_p50'), '.1f'),
            _f(e.get('fps_published'), '.1f'), _f(e.get('latency_slope_ms_per_s'), '.1f'),
            {True: 'yes', False: 'NO'}.get(e.get('veth_covers_served_bytes'), '-'),
        ]) + ' |')
    return '\n'.join(lines) + '\n'


def write_json(rows: list[BenchRow], path: str | Path) -> Path:
    """The JSON list of rows (contract fields first, then the extras)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_json() for r in rows], indent=1) + '\n')
    return path


def plot_latency_vs_rate(rows: list[BenchRow], path: str | Path, title: str = '') -> Path:
    """p50 latency (bars to p95) vs link rate per codec on the clean link; local as a line."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    codecs = [c for c in dict.fromkeys(r.codec for r in rows) if c != 'local']
    for codec in codecs:
        pts = sorted((r.link_mbps, r.latency_p50_ms, r.latency_p95_ms) for r in rows
                     if r.codec == codec and r.setting == 'clean' and not math.isnan(r.latency_p50_ms))
        if not pts:
            continue
        x, p50, p95 = zip(*pts)
        line, = ax.plot(x, p50, marker='o', label=codec)
        ax.vlines(x, p50, p95, color=line.get_color(), alpha=0.4)
    for r in rows:
        if r.codec == 'local' and not math.isnan(r.latency_p50_ms):
            ax.axhline(r.latency_p50_ms, color='k', ls='--', label='local (on robot, 1 core)')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('link rate [Mbit/s] (tbf on the camera->edge veth)')
    ax.set_ylabel('end-to-end latency p50 [ms] (line to p95)')
    ax.set_title(title or 'Latency vs link rate (missing point = no frame delivered)')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
