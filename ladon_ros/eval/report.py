"""Study output: the JSON rows of the issue, the target comparisons, a markdown table, a plot."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ladon_ros.eval.curve import at_metric
from ladon_ros.eval.study import ConfigResult

# Task -> (metric attribute, metric name) rows written to the JSON; detection has two.
TASK_METRICS = {
    'classification': [('top1', 'top1')],
    'detection': [('map', 'mAP@[.5:.95]'), ('map50', 'mAP@.5')],
    'segmentation': [('miou', 'mIoU')],
}
# The metric each task is judged by in the target comparisons and the plot.
PRIMARY = {'classification': 'top1', 'detection': 'map', 'segmentation': 'miou'}


def to_rows(results: list[ConfigResult]) -> dict[str, list[dict]]:
    """The issue's JSON: task -> rows ``{codec, setting, bytes_per_frame, metric_name, metric}``."""
    out: dict[str, list[dict]] = {t: [] for t in TASK_METRICS}
    for r in results:
        for task, metrics in TASK_METRICS.items():
            for attr, name in metrics:
                out[task].append({'codec': r.codec, 'setting': r.setting, 'bytes_per_frame': round(r.bytes_per_frame, 2),
                                  'metric_name': name, 'metric': round(getattr(r, attr), 5)})
    return out


# Ladon bytes / image-codec bytes at equal accuracy must be at most this (issue targets).
BYTES_TARGETS = {'jpeg': 0.25, 'webp': 0.5}
KEEP_TARGET = 0.95  # the middle rate point keeps this share of the teacher on every task
TOP_GAP = 0.02  # the highest rate point is within this share of the teacher on every task


def targets(results: list[ConfigResult]) -> dict:
    """The issue's target comparisons, measured.

    - ``keep_ratio``: per task, Ladon at the middle rate point / teacher (target >= 0.95);
    - ``top_keep``: per task, Ladon at the highest rate point (most bytes) / teacher (target:
      within 2 %);
    - ``bytes_vs_jpeg`` / ``bytes_vs_webp``: per task and rate point, Ladon bytes / the image
      codec's bytes at the same metric (targets ``BYTES_TARGETS``);
    - ``one_stream``: Ladon's one bitstream for all three tasks against per-task streams.
    """
    teacher = next(r for r in results if r.codec == 'teacher')
    ladon = sorted((r for r in results if r.codec == 'ladon'), key=lambda r: r.setting)
    out: dict = {'teacher_bytes': teacher.bytes_per_frame}
    if not ladon:
        return out
    mid = ladon[len(ladon) // 2]
    top = max(ladon, key=lambda r: r.bytes_per_frame)
    out['middle_rate_point'], out['top_rate_point'] = mid.setting, top.setting
    out['keep_ratio'] = _keep(teacher, mid, f'meets_{KEEP_TARGET}', lambda ratio: ratio >= KEEP_TARGET)
    out['top_keep'] = _keep(teacher, top, f'within_{TOP_GAP}', lambda ratio: ratio >= 1.0 - TOP_GAP)
    for codec, target in BYTES_TARGETS.items():
        curve = [r for r in results if r.codec == codec]
        if curve:
            out[f'bytes_vs_{codec}'] = {str(r.setting): _bytes_vs(r, curve, codec, target) for r in ladon}
    per_task = out.get('bytes_vs_jpeg', {}).get(str(mid.setting))
    if per_task:
        out['one_stream'] = {
            'ladon_one_stream_bytes': mid.bytes_per_frame,
            'three_single_task_streams_same_rate_bytes': 3 * mid.bytes_per_frame,
            'jpeg_per_task_streams_sum_bytes': float(sum(v['jpeg_bytes'] for v in per_task.values())),
            'jpeg_one_shared_image_bytes': float(max(v['jpeg_bytes'] for v in per_task.values())),
        }
    return out


def _keep(teacher: ConfigResult, r: ConfigResult, key: str, meets) -> dict:
    """Per task: the teacher's metric, Ladon's, their ratio and whether it ``meets``."""
    out = {}
    for task, attr in PRIMARY.items():
        ref = getattr(teacher, attr)
        ratio = getattr(r, attr) / ref if ref > 0 else float('nan')
        out[task] = {'teacher': ref, 'ladon': getattr(r, attr), 'ratio': ratio, key: bool(meets(ratio))}
    return out


def _bytes_vs(r: ConfigResult, curve: list[ConfigResult], codec: str, target: float) -> dict:
    """Per task: Ladon's bytes against ``codec``'s at Ladon's metric (log-bytes interpolation)."""
    row = {}
    for task, attr in PRIMARY.items():
        m = at_metric([(c.setting, c.bytes_per_frame, getattr(c, attr)) for c in curve], getattr(r, attr))
        ratio = r.bytes_per_frame / m['bytes']
        row[task] = {'ladon_bytes': r.bytes_per_frame, f'{codec}_bytes': m['bytes'], f'{codec}_how': m['how'],
                     'ratio': ratio, f'meets_{target}': bool(ratio <= target)}
    return row


def markdown(results: list[ConfigResult], tgt: dict, *, command: str, scenes: int, seed: int,
             dataset: str = '', model: str = '') -> str:
    """A markdown table of every configuration plus the target comparisons (on ``dataset``, a
    COCO set, when given; else on held-out world ``seed``); ``model``: the Ladon rows' model id."""
    where = f'Dataset {dataset} ({scenes} images)' if dataset else f'Held-out world {seed} ({scenes} generated scenes)'
    lines = [f'{where}, made by `{command}`' + (f'; Ladon rows: `{model}`.' if model else '.'), '',
             '| codec | setting | bytes/frame | top-1 | box mAP@[.5:.95] | box mAP@.5 | mIoU |',
             '|---|---|---:|---:|---:|---:|---:|']
    for r in results:
        s = '-' if r.setting is None else f'{r.setting:g}'
        lines.append(f'| {r.codec} | {s} | {r.bytes_per_frame:,.0f} | {r.top1:.3f} | {r.map:.3f} | {r.map50:.3f} '
                     f'| {r.miou:.3f} |')
    keeps = (('keep_ratio', 'middle_rate_point', 'Middle', f'>= {KEEP_TARGET}', f'meets_{KEEP_TARGET}'),
             ('top_keep', 'top_rate_point', 'Highest', f'within {TOP_GAP:.0%}', f'within_{TOP_GAP}'))
    for key, point, name, target, flag in keeps:
        if key not in tgt:
            continue
        lines += ['', f"{name} rate point beta = {tgt[point]:g} against the teacher (target: {target}):", '',
                  '| task | teacher | Ladon | ratio | meets |', '|---|---:|---:|---:|---|']
        for task, v in tgt[key].items():
            lines.append(f"| {task} | {v['teacher']:.3f} | {v['ladon']:.3f} | {v['ratio']:.3f} | "
                         f"{'yes' if v[flag] else 'no'} |")
    for codec, target in BYTES_TARGETS.items():
        table = tgt.get(f'bytes_vs_{codec}')
        if not table:
            continue
        name = {'jpeg': 'JPEG', 'webp': 'WebP'}[codec]
        lines += ['', f'Ladon bytes / {name} bytes at the same metric (target <= {target}; {name} curve '
                  f'interpolated in log-bytes; "<" / ">" when {name}\'s tested range does not reach that metric):',
                  '', f'| beta | task | Ladon bytes | {name} bytes | ratio | meets |', '|---|---|---:|---:|---:|---|']
        for beta, row in table.items():
            for task, v in row.items():
                how = v[f'{codec}_how']
                mark = {'interpolated': '', 'below_range': '<= ', 'above_range': '> '}[how]
                rmark = {'interpolated': '', 'below_range': '>= ', 'above_range': '< '}[how]
                lines.append(f"| {float(beta):g} | {task} | {v['ladon_bytes']:,.0f} | {mark}{v[f'{codec}_bytes']:,.0f} | "
                             f"{rmark}{v['ratio']:.3f} | {'yes' if v[f'meets_{target}'] else 'no'} |")
    if 'one_stream' in tgt:
        o = tgt['one_stream']
        lines += ['', 'One Ladon bitstream serves all three tasks (middle rate point), against per-task streams:', '',
                  f"- Ladon, one stream: {o['ladon_one_stream_bytes']:,.0f} B/frame",
                  f"- three single-task bottlenecks at the same rate (one stream each): "
                  f"{o['three_single_task_streams_same_rate_bytes']:,.0f} B/frame",
                  f"- JPEG, one stream per task at that task's Ladon accuracy (sum): "
                  f"{o['jpeg_per_task_streams_sum_bytes']:,.0f} B/frame",
                  f"- JPEG, one shared image at the quality the hardest task needs: "
                  f"{o['jpeg_one_shared_image_bytes']:,.0f} B/frame"]
    return '\n'.join(lines) + '\n'


def plot(results: list[ConfigResult], path: Path) -> None:
    """Rate-accuracy plot: one panel per task, bytes per frame (log) against the metric."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    style = {'ladon': ('C3', 'o', '-'), 'jpeg': ('C0', 's', '--'), 'webp': ('C2', '^', '--'), 'png': ('C4', 'D', '')}
    for ax, (task, attr) in zip(axes, PRIMARY.items()):
        for codec, (col, mk, ls) in style.items():
            rs = sorted((r for r in results if r.codec == codec), key=lambda r: r.bytes_per_frame)
            if rs:
                ax.plot([r.bytes_per_frame for r in rs], [getattr(r, attr) for r in rs], color=col, marker=mk,
                        linestyle=ls or 'none', label=codec, markersize=4)
        t = next((r for r in results if r.codec == 'teacher'), None)
        if t is not None:
            ax.axhline(getattr(t, attr), color='k', linestyle=':', label='teacher (raw)')
        ax.set_xscale('log')
        ax.set_xlabel('bytes per frame (header included)')
        ax.set_ylabel({'top1': 'top-1 accuracy', 'map': 'box mAP@[.5:.95]', 'miou': 'mIoU'}[attr])
        ax.set_title(task)
        ax.grid(True, which='both', alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def nan_to_none(obj):
    """JSON-safe copy (NaN -> None)."""
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [nan_to_none(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
