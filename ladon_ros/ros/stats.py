"""Counters and sliding windows behind /diagnostics, FrameStats and LinkFeedback (no rclpy).

Times are nanoseconds of one clock (the node's wall clock); windows keep the last
``window_s`` seconds so the figures describe the link now, not since start.
"""
from __future__ import annotations

import statistics
from collections import Counter, deque


class LinkStats:
    """What one robot's link looks like from the edge: arrivals, bytes, delay, losses."""

    def __init__(self, window_s: float = 5.0):
        self.window_ns = int(window_s * 1e9)
        self._arrivals: deque[tuple[int, int, float]] = deque()  # (arrival_ns, bytes, delay_ms)
        self.received = 0
        self.lost = 0
        self.replaced_in_reader = 0  # gaps while the edge paced its receiving (not the link's)
        self.restarts = 0
        self._last_seq: int | None = None

    def on_arrival(self, sequence: int, nbytes: int, delay_ms: float, now_ns: int, *,
                   paused_since_last: bool = False) -> None:
        """Records one received frame; a gap in ``sequence`` counts the missing frames as lost.

        Args:
            paused_since_last: The edge paused its receiving (``ReceivePacer``) since this
                robot's previous frame: a gap is then counted as replaced in the DDS reader
                (keep-last 1), not as lost on the link, so the robot's rate adapter does not
                step down for the edge's overload.
        """
        self.received += 1
        if self._last_seq is not None:
            if sequence > self._last_seq:
                gap = sequence - self._last_seq - 1
                if paused_since_last:
                    self.replaced_in_reader += gap
                else:
                    self.lost += gap
            else:
                self.restarts += 1  # the camera node restarted (its counter began again)
        self._last_seq = sequence
        self._arrivals.append((now_ns, nbytes, delay_ms))
        self._trim(now_ns)

    def _trim(self, now_ns: int) -> None:
        while self._arrivals and now_ns - self._arrivals[0][0] > self.window_ns:
            self._arrivals.popleft()

    def feedback(self, now_ns: int) -> dict[str, float]:
        """arrival_rate_hz, jitter_ms, bytes_per_s, one_way_delay_ms over the window."""
        self._trim(now_ns)
        a = list(self._arrivals)
        out = {'arrival_rate_hz': 0.0, 'jitter_ms': 0.0, 'bytes_per_s': 0.0, 'one_way_delay_ms': 0.0}
        if not a:
            return out
        span_s = self.window_ns / 1e9
        out['arrival_rate_hz'] = len(a) / span_s
        out['bytes_per_s'] = sum(n for _, n, _ in a) / span_s
        out['one_way_delay_ms'] = statistics.median(d for _, _, d in a)
        if len(a) >= 3:
            gaps = [(a[i + 1][0] - a[i][0]) / 1e6 for i in range(len(a) - 1)]
            mean = sum(gaps) / len(gaps)
            out['jitter_ms'] = sum(abs(g - mean) for g in gaps) / len(gaps)
        return out


class PipelineStats:
    """Served frames, stage latencies and rejections of the edge node."""

    def __init__(self, window_s: float = 5.0, stages: tuple[str, ...] = ('transit', 'decode', 'heads', 'total')):
        self.window_ns = int(window_s * 1e9)
        self.stages = stages
        self.served = 0
        self.rejected: Counter[str] = Counter()
        self.dropped_stale = 0  # overwritten by a newer frame of the same robot before being served
        self._frames: deque[tuple[int, int, dict[str, float]]] = deque()  # (done_ns, bytes, stage ms)

    def on_served(self, nbytes: int, stages_ms: dict[str, float], now_ns: int) -> None:
        """Records one frame whose results were published."""
        self.served += 1
        self._frames.append((now_ns, nbytes, dict(stages_ms)))
        while self._frames and now_ns - self._frames[0][0] > self.window_ns:
            self._frames.popleft()

    def on_rejected(self, reason: str) -> None:
        """Counts one refused frame under its reason."""
        self.rejected[reason] += 1

    def summary(self, now_ns: int) -> dict[str, str]:
        """Key/value pairs for a DiagnosticStatus (strings, units in the key names)."""
        # list() copies the deque in one step under the GIL: the worker thread appends to it
        # (on_served) while the executor thread summarises (iterating it live raised
        # 'deque mutated during iteration' and killed an edge under a flood).
        f = [x for x in list(self._frames) if now_ns - x[0] <= self.window_ns]
        out = {
            'frames_served': str(self.served),
            'rate_hz': f'{len(f) / (self.window_ns / 1e9):.2f}',
            'bytes_per_frame_mean': f'{sum(n for _, n, _ in f) / len(f):.0f}' if f else '0',
            'frames_rejected': str(sum(self.rejected.values())),
            'frames_dropped_stale': str(self.dropped_stale),
        }
        for stage in self.stages:
            vals = [s[stage] for _, _, s in f if stage in s]
            out[f'{stage}_ms_p50'] = f'{statistics.median(vals):.1f}' if vals else 'n/a'
        for reason, n in sorted(self.rejected.items()):
            out[f'rejected.{reason}'] = str(n)
        return out
