"""Tables, JSON rows and plots of the fleet benchmark (matplotlib, no ROS)."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ladon_ros.bench.fleet.metrics import FleetRow, headline


def _f(x, fmt: str = '.0f') -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return '-'
    if isinstance(x, float) and math.isinf(x):
        return 'inf'
    return format(x, fmt)


def markdown_table(rows: list[FleetRow]) -> str:
    """One line per cell."""
    head = ('| codec | link | Mbit/s | edges | fps | robots | fps min/med | robot p50/p95 ms | edge p50/p95 ms | '
            'drop | B up/frame | B down/frame | link up/down | edge util | batch | edge ms | floor robots '
            '(up/down/edge) | robot CPU | veth ok | in budget |')
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for r in rows:
        e = r.extra
        veth = e.get('veth_up_covers_served'), e.get('veth_down_covers_received')
        lines.append('| ' + ' | '.join([
            r.codec, r.setting, _f(r.link_mbps, 'g'), str(r.edges), _f(r.fps, 'g'), str(r.robots),
            f'{_f(r.fps_delivered_min, ".1f")}/{_f(r.fps_delivered_median, ".1f")}',
            f'{_f(r.latency_p50_ms)}/{_f(r.latency_p95_ms)}',
            f'{_f(e.get("latency_edge_p50_ms"))}/{_f(e.get("latency_edge_p95_ms"))}',
            _f(r.drop_rate, '.0%'), _f(e.get('bytes_up_per_frame')), _f(e.get('bytes_down_per_frame')),
            f'{_f(e.get("link_util_up"), ".0%")}/{_f(e.get("link_util_down"), ".0%")}', _f(r.edge_util, '.0%'),
            _f(r.batch_mean, '.2f'), _f(e.get('edge_ms_p50'), '.1f'),
            f'{_f(r.floor_robots, ".1f")} ({_f(e.get("floor_link_up_robots"), ".0f")}/'
            f'{_f(e.get("floor_link_down_robots"), ".0f")}/{_f(e.get("floor_edge_robots"), ".1f")})',
            _f(e.get('robot_cpu_cores'), '.2f'),
            'yes' if all(veth) else ('NO' if False in veth else '-'),
            'yes' if r.within_budget else 'no',
        ]) + ' |')
    return '\n'.join(lines) + '\n'


def headline_table(rows: list[FleetRow], pairs: dict | None = None) -> str:
    """Robots within budget per codec, link, fps and edge count, against the floor."""
    lines = ['| codec | link | Mbit/s | fps | edges | robots within budget | floor robots | within/floor | '
             'limited by | robot counts tried |', '|---|---|---|---|---|---|---|---|---|---|']
    for h in headline(rows):
        lines.append(f'| {h["codec"]} | {h["setting"]} | {h["link_mbps"]:g} | {h["fps"]:g} | {h["edges"]} | '
                     f'{h["robots_within_budget"]} | {_f(h["floor_robots"], ".1f")} | '
                     f'{_f(h["within_over_floor"], ".2f")} | {h["limited_by"]} | '
                     f'{",".join(map(str, h["robots_tried"]))} |')
    text = '\n'.join(lines) + '\n'
    if pairs:
        text += '\n' + equal_accuracy_table(rows, pairs)
    return text


def equal_accuracy_table(rows: list[FleetRow], pairs: dict) -> str:
    """Ladon rate point vs the JPEG/WebP setting of equal detection mAP: robots within budget and ratio."""
    heads = {(h['codec'], h['setting'], h['link_mbps'], h['fps'], h['edges']): h['robots_within_budget']
             for h in headline(rows)}
    lines = ['| Ladon point (mAP) | equal-accuracy setting (mAP) | link | Mbit/s | fps | edges | robots Ladon | '
             'robots other | ratio |', '|---|---|---|---|---|---|---|---|---|']
    for (codec, setting, link, fps, edges), n in heads.items():
        if not codec.startswith('ladon@'):
            continue
        beta = float(codec.split('@')[1])
        pair = pairs.get(beta)
        if not pair:
            continue
        for other in ('jpeg', 'webp'):
            if not pair.get(other):
                continue
            q, metric = pair[other]
            label = f'{other}@{q:g}'
            m = heads.get((label, setting, link, fps, edges))
            if m is None:
                continue
            ratio = n / m if m else (math.inf if n else math.nan)
            lines.append(f'| {codec} ({pair["ladon"]:.3f}) | {label} ({metric:.3f}) | {setting} | {link:g} | '
                         f'{fps:g} | {edges} | {n} | {m} | {_f(ratio, ".2f")} |')
    return '\n'.join(lines) + '\n'


def write_json(rows: list[FleetRow], path: str | Path, pairs: dict | None = None) -> Path:
    """``{"rows": [...], "headline": [...], "equal_accuracy_pairs": {...}}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(x):
        if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
            return None if math.isnan(x) else 'inf'
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    doc = {'rows': [clean(r.to_json()) for r in rows], 'headline': clean(headline(rows)),
           'equal_accuracy_pairs': clean({str(k): v for k, v in (pairs or {}).items()})}
    path.write_text(json.dumps(doc, indent=1) + '\n')
    return path


def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_vs_robots(rows: list[FleetRow], path: str | Path, budget_ms: float) -> Path:
    """Per (link, fps, edges) panel pair: robot p95 latency and min delivered fps vs robots, a line per codec."""
    plt = _plt()
    panels = sorted({(r.setting, r.link_mbps, r.fps, r.edges) for r in rows})
    ncol = min(4, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, grid = plt.subplots(2 * nrow, ncol, figsize=(4.2 * ncol, 3.4 * 2 * nrow), squeeze=False)
    # Panel j: latency in grid row 2*(j // ncol), delivered fps right below it.
    axes = [[grid[2 * (j // ncol)][j % ncol] for j in range(len(panels))],
            [grid[2 * (j // ncol) + 1][j % ncol] for j in range(len(panels))]]
    for j in range(len(panels), nrow * ncol):
        grid[2 * (j // ncol)][j % ncol].axis('off')
        grid[2 * (j // ncol) + 1][j % ncol].axis('off')
    for j, (setting, link, fps, edges) in enumerate(panels):
        cells = [r for r in rows if (r.setting, r.link_mbps, r.fps, r.edges) == (setting, link, fps, edges)]
        for codec in dict.fromkeys(r.codec for r in cells):
            pts = sorted((r.robots, r.latency_p50_ms, r.latency_p95_ms, r.fps_delivered_min)
                         for r in cells if r.codec == codec)
            x = [p[0] for p in pts]
            line, = axes[0][j].plot(x, [p[2] for p in pts], marker='o', label=codec)
            axes[0][j].plot(x, [p[1] for p in pts], ls=':', color=line.get_color())
            axes[1][j].plot(x, [p[3] for p in pts], marker='o', color=line.get_color(), label=codec)
        axes[0][j].axhline(budget_ms, color='k', ls='--', lw=0.8)
        axes[1][j].axhline(0.9 * fps, color='k', ls='--', lw=0.8)
        axes[0][j].set_title(f'{setting} {link:g} Mbit/s, {fps:g} Hz, {edges} edge(s)', fontsize=9)
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xscale('log', base=2)
            ax.grid(True, alpha=0.3)
            ax.set_xlabel('robots')
        axes[0][j].set_yscale('log')
        axes[0][j].set_ylabel('capture -> results at robot [ms]\n(solid p95, dotted p50; -- budget)', fontsize=8)
        axes[1][j].set_ylabel('delivered fps, worst robot\n(-- 90 %)', fontsize=8)
        axes[1][j].set_ylim(bottom=0)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_within_budget(rows: list[FleetRow], path: str | Path) -> Path:
    """Bars: robots within budget per codec, one panel per link rate (groups: fps x edges)."""
    plt = _plt()
    heads = headline(rows)
    links = sorted({(h['setting'], h['link_mbps']) for h in heads}, key=lambda k: (k[0] != 'clean', -k[1]))
    fig, axes = plt.subplots(1, len(links), figsize=(5 * len(links), 4), squeeze=False)
    for j, (setting, link) in enumerate(links):
        ax = axes[0][j]
        hs = [h for h in heads if (h['setting'], h['link_mbps']) == (setting, link)]
        codecs = list(dict.fromkeys(h['codec'] for h in hs))
        groups = sorted({(h['fps'], h['edges']) for h in hs})
        width = 0.8 / max(1, len(groups))
        for g, (fps, edges) in enumerate(groups):
            vals = [next((h['robots_within_budget'] for h in hs if h['codec'] == c and (h['fps'], h['edges'])
                          == (fps, edges)), 0) for c in codecs]
            ax.bar([i + g * width for i in range(len(codecs))], vals, width, label=f'{fps:g} Hz, {edges} edge(s)')
        ax.set_xticks([i + width * (len(groups) - 1) / 2 for i in range(len(codecs))])
        ax.set_xticklabels(codecs, rotation=30, fontsize=8)
        ax.set_title(f'{setting} {link:g} Mbit/s')
        ax.set_ylabel('robots within budget')
        ax.grid(True, axis='y', alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
