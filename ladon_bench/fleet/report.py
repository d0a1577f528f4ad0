"""Tables, JSON rows and plots of the fleet benchmark (matplotlib, no ROS)."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ladon_bench.fleet.metrics import FleetRow, census_overhead_split, headline


def _f(x, fmt: str = '.0f') -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return '-'
    if isinstance(x, float) and math.isinf(x):
        return 'inf'
    return format(x, fmt)


def _queue(n) -> str:
    from ladon_bench.fleet.plan import QUEUE_MAX_N
    return f'>={QUEUE_MAX_N}' if isinstance(n, (int, float)) and n >= QUEUE_MAX_N else _f(n, '.0f')


def _kbit(bps) -> str:
    return _f(bps / 1e3 if isinstance(bps, (int, float)) else bps, '.1f')


def markdown_table(rows: list[FleetRow]) -> str:
    """One line per cell."""
    head = ('| codec | link | Mbit/s | edges | fps | robots | fps min/med | robot p50/p95 ms | edge p50/p95 ms | '
            'drop | B up/frame | B down/frame | link up/down | edge util | batch | edge ms | floor robots '
            '(up/down/edge) | protocol-aware floor (up/down/edge CPU) | overhead kbit/s per robot (up/down) | '
            'robot CPU | veth ok | in budget |')
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
            f'{_f(e.get("floor_proto_robots"), ".1f")} ({_f(e.get("floor_proto_link_up_robots"), ".1f")}/'
            f'{_f(e.get("floor_proto_link_down_robots"), ".1f")}/{_f(e.get("floor_edge_cpu_robots"), ".1f")})',
            f'{_kbit(e.get("overhead_up_bps_per_robot"))}/{_kbit(e.get("overhead_down_bps_per_robot"))}',
            _f(e.get('robot_cpu_cores'), '.2f'),
            'yes' if all(veth) else ('NO' if False in veth else '-'),
            'yes' if r.within_budget else 'no',
        ]) + ' |')
    return '\n'.join(lines) + '\n'


def overhead_table(rows: list[FleetRow]) -> str:
    """Per-robot non-frame overhead [kbit/s] by RTPS class, up and down, for every cell with a census.

    ``total`` is the veth bytes beyond the modelled frames (up) or results (down); ``protocol``
    the total without the per-datagram framing the model leaves out (``framing:*``); the parts
    are ``metrics.census_overhead_split``'s. Then the joins: link bytes per robot that joined for
    a cell, from its start until every robot was served (its first frames and results included),
    and each joining robot's first frame -> first result.
    """
    cells = [r for r in rows if r.extra.get('census_up_bps') or r.extra.get('census_down_bps')]
    if not cells:
        return ''
    split = {(id(r), side): census_overhead_split(r, side) for r in cells for side in ('up', 'down')}
    lines = []
    for side in ('up', 'down'):
        classes = sorted({k for (i, sd), v in split.items() if sd == side for k in v},
                         key=lambda k: (k == 'user_data_residual', k.startswith('framing:'), k))
        head = (f'| {side} | link | Mbit/s | fps | edges | robots | codec | total kbit/s per robot | '
                'protocol (total - framing) | ' + ' | '.join(classes) + ' |')
        lines += [head, '|' + '---|' * (head.count('|') - 1)]
        for r in cells:
            sp = split[(id(r), side)]
            lines.append('| ' + ' | '.join([
                r.extra.get('dds_profile', 'fleet'), r.setting, _f(r.link_mbps, 'g'), _f(r.fps, 'g'), str(r.edges),
                str(r.robots), r.codec, _kbit(r.extra.get(f'overhead_{side}_bps_per_robot')),
                _kbit(r.extra.get(f'overhead_{side}_protocol_bps_per_robot')),
                *[_f(sp[k] / 1e3, '.2f') if k in sp else '-' for k in classes]]) + ' |')
        lines.append('')
    joins = [r for r in rows if r.extra.get('joined')]
    if joins:
        head = ('| joins | link | edges | robots after | joined | kB up per joining robot | kB down per joining robot '
                '| first frame -> first result s (median / max) |')
        lines += [head, '|' + '---|' * (head.count('|') - 1)]
        for r in joins:
            js = sorted(r.extra.get('join_first_result_s') or [])
            lines.append('| ' + ' | '.join([
                r.extra.get('dds_profile', 'fleet'), r.setting, str(r.edges), str(r.robots), str(r.extra['joined']),
                _f(r.extra['join_bytes_up_per_robot'] / 1e3, '.1f'),
                _f(r.extra['join_bytes_down_per_robot'] / 1e3, '.1f'),
                f'{_f(js[len(js) // 2], ".2f")} / {_f(js[-1], ".2f")}' if js else '-']) + ' |')
        lines.append('')
    return '\n'.join(lines)


def headline_table(rows: list[FleetRow], pairs: dict | None = None, skipped: list[dict] = ()) -> str:
    """Robots within budget per codec, link, fps and edge count, against both floors; skipped searches."""
    lines = ['| codec | link | Mbit/s | fps | edges | robots within budget | floor robots (frames only) | '
             'floor robots (protocol-aware) | link up within budget (queueing) | within/floor | '
             'within/protocol floor | '
             'within/queueing | limited by | stopped by | robot counts tried |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for h in headline(rows, skipped):
        if h['skipped']:
            n = '-' if h['robots_within_budget'] is None else str(h['robots_within_budget'])
            lines.append(f'| {h["codec"]} | {h["setting"]} | {h["link_mbps"]:g} | {h["fps"]:g} | {h["edges"]} | '
                         f'{n} | - | - | - | - | - | - | skipped: {h["skipped"]} | - | - |')
            continue
        lines.append(f'| {h["codec"]} | {h["setting"]} | {h["link_mbps"]:g} | {h["fps"]:g} | {h["edges"]} | '
                     f'{h["robots_within_budget"]} | {_f(h["floor_robots"], ".1f")} | '
                     f'{_f(h["floor_proto_robots"], ".1f")} | {_queue(h["floor_queue_link_up_robots"])} | '
                     f'{_f(h["within_over_floor"], ".2f")} | {_f(h["within_over_proto_floor"], ".2f")} | '
                     f'{_f(h["within_over_queue_floor"], ".2f")} | {h["limited_by"]} | {h["stopped_by"]} | '
                     f'{",".join(map(str, h["robots_tried"]))} |')
    text = '\n'.join(lines) + '\n'
    if pairs:
        text += '\n' + equal_accuracy_table(rows, pairs)
    return text


def equal_accuracy_rows(rows: list[FleetRow], pairs: dict) -> list[dict]:
    """Ladon rate point vs the JPEG/WebP setting of equal detection mAP, per link/fps/edges both ran.

    ``pairs``: ``accuracy.equal_accuracy`` output. Bytes: from the eval (interpolated at equal
    mAP) and as sent in the fleet run (payload per frame); robots within budget: measured.
    """
    heads = {(h['codec'], h['setting'], h['link_mbps'], h['fps'], h['edges']): h for h in headline(rows)}
    out = []
    for (codec, setting, link, fps, edges), h in heads.items():
        if not codec.startswith('ladon@'):
            continue
        pair = pairs.get(float(codec.split('@')[1]))
        if not pair:
            continue
        for other in ('jpeg', 'webp'):
            m = pair.get(other)
            if not m:
                continue
            label = f'{other}@{m["run"]}'
            o = heads.get((label, setting, link, fps, edges))
            if o is None:
                continue
            n, k = h['robots_within_budget'], o['robots_within_budget']
            up = {c: _bytes_up(rows, c, setting, link, fps, edges) for c in (codec, label)}
            out.append({'ladon': codec, 'ladon_map': pair['ladon']['metric'], 'other': label,
                        'other_quality_interpolated': m['quality'], 'other_bracket': m['bracket'],
                        'bound': m['bound'], 'setting': setting, 'link_mbps': link, 'fps': fps, 'edges': edges,
                        'robots_ladon': n, 'robots_other': k,
                        'robots_ratio': n / k if k else (math.inf if n else math.nan),
                        'bytes_ratio_eval': m['bytes_ratio'],
                        'bytes_ratio_fleet': up[codec] / up[label] if up[label] else math.nan,
                        'limited_by': (h['limited_by'], o['limited_by'])})
    return out


def _bytes_up(rows, codec, setting, link, fps, edges) -> float:
    v = [r.extra.get('bytes_up_per_frame') for r in rows
         if (r.codec, r.setting, r.link_mbps, r.fps, r.edges) == (codec, setting, link, fps, edges)]
    v = [x for x in v if x is not None and x == x]
    return sum(v) / len(v) if v else math.nan


def equal_accuracy_table(rows: list[FleetRow], pairs: dict) -> str:
    """Markdown of ``equal_accuracy_rows``."""
    lines = ['| Ladon point (mAP) | equal-accuracy setting (quality interpolated) | link | Mbit/s | fps | edges | '
             'robots Ladon | robots other | robots ratio | bytes ratio (eval) | bytes ratio (sent) | limited by |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for e in equal_accuracy_rows(rows, pairs):
        lines.append(f'| {e["ladon"]} ({e["ladon_map"]:.3f}) | {e["other"]} ({e["other_quality_interpolated"]:.1f}'
                     f'{", " + e["bound"] if e["bound"] else ""}) | {e["setting"]} | {e["link_mbps"]:g} | '
                     f'{e["fps"]:g} | '
                     f'{e["edges"]} | {e["robots_ladon"]} | {e["robots_other"]} | {_f(e["robots_ratio"], ".2f")} | '
                     f'{_f(e["bytes_ratio_eval"], ".2f")} | {_f(e["bytes_ratio_fleet"], ".2f")} | '
                     f'{e["limited_by"][0]} / {e["limited_by"][1]} |')
    return '\n'.join(lines) + '\n'


def _clean(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None if math.isnan(x) else 'inf'
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def write_json(rows: list[FleetRow], path: str | Path, pairs: dict | None = None, skipped: list[dict] = (),
               meta: dict | None = None) -> Path:
    """``{"rows", "headline", "skipped", "equal_accuracy_pairs", "equal_accuracy", "meta"}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {'rows': [_clean(r.to_json()) for r in rows], 'headline': _clean(headline(rows, skipped)),
           'skipped': _clean(list(skipped)), 'equal_accuracy_pairs': _clean(pairs or {}),
           'equal_accuracy': _clean(equal_accuracy_rows(rows, pairs) if pairs else []), 'meta': _clean(meta or {})}
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
        # A cell where no robot got a result (an overload cell) has no latency to plot: log
        # axes over no finite positive value make matplotlib raise at layout time.
        has_latency = any(math.isfinite(r.latency_p95_ms) and r.latency_p95_ms > 0 for r in cells)
        for ax in (axes[0][j], axes[1][j]) if has_latency else (axes[1][j],):
            ax.set_xscale('log', base=2)
        for ax in (axes[0][j], axes[1][j]):
            ax.grid(True, alpha=0.3)
            ax.set_xlabel('robots')
        if has_latency:
            axes[0][j].set_yscale('log')
        else:
            axes[0][j].text(0.5, 0.5, 'no result in the window', transform=axes[0][j].transAxes, ha='center')
        axes[0][j].set_ylabel('capture -> results at robot [ms]\n(solid p95, dotted p50; -- budget)', fontsize=8)
        axes[1][j].set_ylabel('delivered fps, worst robot\n(-- 90 %)', fontsize=8)
        axes[1][j].set_ylim(bottom=0)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_within_budget(rows: list[FleetRow], path: str | Path, skipped: list[dict] = ()) -> Path:
    """Bars: robots within budget per codec, one panel per link rate (groups: fps x edges)."""
    plt = _plt()
    heads = [h for h in headline(rows, skipped) if h['robots_within_budget'] is not None]
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
