"""Small timing helpers shared by the benchmarks."""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable


def time_ms(fn: Callable[[], object], *, iters: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``iters`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(max(1, iters)):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def write_rows(rows: list[dict], path: str | Path | None) -> None:
    """Writes ``rows`` as a JSON list (if ``path``)."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(rows, indent=1))


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text (markdown) table of ``rows``."""
    def cell(v):
        return f'{v:.2f}' if isinstance(v, float) else str(v)
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    lines += ['| ' + ' | '.join(cell(r.get(c, '')) for c in columns) + ' |' for r in rows]
    return '\n'.join(lines)
