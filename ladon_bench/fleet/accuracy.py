"""Equal detection accuracy: each Ladon rate point paired with the JPEG/WebP setting of equal mAP.

The pairing comes from a ``ladon-ros eval --quick --json FILE`` result of the weights that
run NOW (they are retrained from time to time), never from numbers kept in the code: either
a file given with ``--accuracy``, or one computed once and cached under the output folder,
named by a hash of the shipped weights so new weights get a new evaluation.

The pairing is ``eval.curve.at_metric`` (the interpolation eval's byte ratios use too):
between the two measured qualities whose mAP brackets m, linear in quality and in log-bytes.
The fleet benchmark then runs that quality (rounded) and reports robots within budget and
bytes of the pair.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from ladon_ros.eval.curve import at_metric

METRIC = 'mAP@[.5:.95]'
TASK = 'detection'


def _curve(rows: list[dict], codec: str) -> list[tuple[float, float, float]]:
    """(quality, bytes, metric) of ``codec``."""
    return [(float(r['setting']), float(r['bytes_per_frame']), float(r['metric'])) for r in rows if r['codec'] == codec]


def match(curve: list[tuple[float, float, float]], target: float) -> dict | None:
    """The quality of ``curve`` (quality, bytes, metric) whose metric equals ``target``.

    ``eval.curve.at_metric`` as ``{'quality', 'bytes', 'metric', 'bracket', 'bound'}``;
    the lowest quality when even that reaches the target (``'bound': 'lowest quality'``:
    equal accuracy costs at most its bytes); None when no quality reaches it.
    """
    if not curve:
        return None
    m = at_metric(curve, target)
    if m['how'] == 'above_range':
        return None
    return {'quality': m['setting'], 'bytes': m['bytes'], 'metric': m['metric'], 'bracket': m['bracket'],
            'bound': 'lowest quality' if m['how'] == 'below_range' else ''}


def equal_accuracy(eval_rows: dict, metric: str = METRIC, task: str = TASK) -> dict[float, dict]:
    """Per Ladon rate point: its bytes and metric, and the equal-accuracy JPEG and WebP.

    Args:
        eval_rows: ``ladon-ros eval --json`` output: task -> rows of ``codec``, ``setting``,
            ``bytes_per_frame``, ``metric_name``, ``metric``.

    Returns:
        ``{beta: {'ladon': {'bytes', 'metric'}, 'jpeg': match(...) + 'run' (the quality to run,
        an int), 'webp': ...}}``; a codec is None where no quality reaches Ladon's metric.
    """
    rows = [r for r in eval_rows.get(task, []) if r.get('metric_name') == metric]
    out = {}
    for r in rows:
        if r['codec'] != 'ladon':
            continue
        pair = {'ladon': {'bytes': float(r['bytes_per_frame']), 'metric': float(r['metric'])}}
        for codec in ('jpeg', 'webp'):
            m = match(_curve(rows, codec), float(r['metric']))
            if m is not None:
                m['run'] = max(1, int(round(m['quality'])))
                m['bytes_ratio'] = pair['ladon']['bytes'] / m['bytes']  # Ladon / other, both from the eval
            pair[codec] = m
        out[float(r['setting'])] = pair
    return out


def weights_key() -> str:
    """Short hash of the shipped checkpoints (names and contents): the eval cache's key."""
    from ladon_ros.weights import WEIGHTS_DIR
    h = hashlib.sha256()
    for p in sorted(WEIGHTS_DIR.glob('*.safetensors')):
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:12]


def load_or_evaluate(out_dir: Path, given: str = '', log=print) -> tuple[dict, Path]:
    """The eval rows to pair from: ``given``, else the cache of these weights, else a fresh
    ``ladon-ros eval --quick`` (about a minute; written to the cache)."""
    if given:
        path = Path(given)
        return json.loads(path.read_text()), path
    path = Path(out_dir) / 'accuracy' / f'eval_quick_{weights_key()}.json'
    if not path.is_file():
        log(f'equal accuracy: no eval of these weights cached; running ladon-ros eval --quick -> {path}')
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix('.partial.json')
        subprocess.run([sys.executable, '-m', 'ladon_ros.cli', 'eval', '--quick', '--json', str(tmp),
                        '--out', str(path.parent / 'eval')], check=True)
        tmp.replace(path)
    else:
        log(f'equal accuracy: eval of these weights cached in {path}')
    return json.loads(path.read_text()), path


def extra_settings(pairs: dict[float, dict], betas) -> list[str]:
    """The JPEG/WebP settings (``jpeg@14``) of equal accuracy to the Ladon points ``betas``."""
    out = []
    for beta in betas:
        for codec in ('jpeg', 'webp'):
            m = (pairs.get(beta) or {}).get(codec)
            if m and f'{codec}@{m["run"]}' not in out:
                out.append(f'{codec}@{m["run"]}')
    return out
