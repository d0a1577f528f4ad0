"""Small timing helpers shared by the benchmarks."""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable


CLOCKS = ('thread', 'wall')


def time_ms(fn: Callable[[], object], *, iters: int, warmup: int = 2, clock: str = 'wall') -> float:
    """Median time of ``fn()`` in milliseconds over ``iters`` calls after ``warmup``.

    Args:
        clock: ``'wall'`` (``perf_counter``) or ``'thread'`` (CPU time of the calling thread,
            ``time.thread_time``): for single-threaded work (torch with 1 thread, ONNX Runtime
            with 1 intra-op thread, the rANS coder, OpenCV with 1 thread) it is the cost of
            the work itself, unaffected by other processes competing for the cores.
    """
    if clock not in CLOCKS:
        raise ValueError(f'clock must be one of {CLOCKS}, got {clock!r}')
    now = time.thread_time if clock == 'thread' else time.perf_counter
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(max(1, iters)):
        t0 = now()
        fn()
        samples.append((now() - t0) * 1e3)
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
