"""Which robot-count searches a run makes, which it can skip, and how each search steps (pure).

A search = one (codec, link setting, link rate, fps, edge count): it finds the largest robot
count within budget. Steps (``next_count``): start at the largest ladder count (1, 2, 4, ...)
at most half the predicted floor, climb the ladder while cells pass, step down it while they
fail, then bisect between the largest pass and the smallest fail until the gap is within
``resolution`` of the answer. Counts above ``cap`` (1.2x the protocol-aware link floor) are
not tried: the link cannot carry them.

Skips (each printed and written with its reason, never silent):

- ``static_skip``: provably 0 robots before running: one frame alone needs longer than the
  budget on the link; on the lossy link too few frames arrive whole; link floor below 1.
- ``second_edge_skip``: a 2-edge search whose 1-edge search was stopped by the link (its
  first failing cell had a link direction >= 85 % busy while the edge was not): a second edge
  adds compute, not link.

The standard set (``standard_plan``) answers the headline questions in well under 45 min on
2 cores; ``grid_plan`` is the full cartesian product of explicit flags.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from ladon_bench.link.floor import DDS_MAX_DATAGRAM, IP_MTU_PAYLOAD, MSG_OVERHEAD, RTPS_OVERHEAD, UDP_HEADER, \
    percentile, wire_bytes

LADDER = (1, 2, 4, 8, 16, 32)
# Per-robot DDS traffic beyond frames and results [bit/s per direction] until this run has
# measured its own (last measured: ~24 kbit/s each way, docs/FLEET_BENCH.md).
OVERHEAD_PRIOR_BPS = 24_000.0
# The same for the thin profile (docs/FLEET_BENCH.md "Thin links": 1.4-1.5 up, 4.5-4.6 down).
THIN_OVERHEAD_PRIOR_BPS = 5_000.0
# Edge CPU per served frame [ms] until this run has measured it (bench-edge: 22-28 ms + publishing).
EDGE_MS_PRIOR = 30.0
# Result bytes per frame coming back (four messages, CDR) until measured.
DOWN_BYTES_PRIOR = 1100.0
CAP_OVER_LINK_FLOOR = 1.2
# The queueing floor is searched up to this many robots (shown as '>=' when reached).
QUEUE_MAX_N = 64
LINK_BUSY = 0.85


@dataclass(frozen=True)
class Search:
    """One robot-count search. ``why``: which question it answers (shown in the output)."""

    codec: str          # case label: 'ladon@1', 'jpeg@75', 'raw'
    setting: str        # 'clean' or 'lossy', '+thin' with the thin-link DDS profile (with_profile)
    link_mbps: float
    fps: float
    edges: int
    why: str = ''

    @property
    def key(self) -> tuple:
        """(codec, setting, link, fps, edges), as ``metrics.group_key``."""
        return (self.codec, self.setting, self.link_mbps, self.fps, self.edges)


# DDS profiles a run can compare side by side: 'fleet' (SIMPLE discovery, config/fastdds_fleet.xml)
# and 'thin' (two discovery servers in the base namespace, config/fastdds_thin_{robot,edge}.xml;
# the robots read their results as one perception/results message per frame); 'thin-split' is
# 'thin' with the robots on the four split result topics (the thin profile before that message).
DDS_PROFILES = ('fleet', 'thin', 'thin-split')


def with_profile(setting: str, profile: str) -> str:
    """The setting name of ``setting`` ('clean'/'lossy') run with DDS profile ``profile``.

    The profile is part of the setting so that rows, searches and headlines of two profiles
    in one run stay apart: 'clean' (fleet profile, as before) and 'clean+thin'.
    """
    if profile not in DDS_PROFILES:
        raise ValueError(f'DDS profile must be one of {DDS_PROFILES}, got {profile!r}')
    return setting if profile == 'fleet' else f'{setting}+{profile}'


def split_setting(setting: str) -> tuple[str, str]:
    """('clean' or 'lossy', DDS profile) of a setting name (``with_profile``'s inverse)."""
    link, _, profile = setting.partition('+')
    return link, profile or 'fleet'


def with_profiles(searches: list[Search], profiles) -> list[Search]:
    """``searches`` once per DDS profile, profile by profile (each profile's searches together)."""
    return [replace(s, setting=with_profile(s.setting, p)) for p in profiles for s in searches]


def grid_plan(codecs, rates, fps, edges, lossy_rate: float | None) -> list[Search]:
    """Every combination (explicit flags): edges outer, then fps, codec, rate fastest first."""
    out = []
    topologies = [('clean', tuple(rates))] + ([('lossy', (lossy_rate,))] if lossy_rate else [])
    for setting, rs in topologies:
        for e in edges:
            for f in fps:
                for c in codecs:
                    for r in rs:
                        out.append(Search(c, setting, r, f, e, 'grid'))
    return out


def standard_plan(mid: str, points: list[str], equal: list[str], lossy_rate: float) -> list[Search]:
    """The default set: the headline at every link rate, the rest where bytes can matter.

    Args:
        mid: Ladon's middle rate point (``'ladon@1'``).
        points: Every shipped Ladon point.
        equal: JPEG/WebP settings of equal detection accuracy to those points.
        lossy_rate: Rate of the lossy setting.

    - headline (2 Hz): Ladon middle point, JPEG q75, raw at 20, 5, 1 Mbit/s, 1 and 2 edges;
    - 10 Hz: Ladon middle point and JPEG q75 at 1 Mbit/s, 1 edge;
    - breadth and equal accuracy (2 Hz, 1 Mbit/s, 2 edges: the slowest link with the most
      compute, where bytes decide soonest): the other Ladon points, JPEG q50/q90, WebP and
      the equal-accuracy JPEG/WebP settings. At 5 and 20 Mbit/s their link floor is several
      times the edge's, so the edge decides there, as the headline codecs measure.
    - lossy (5 Mbit/s, 20 ms, 2 % loss): Ladon middle point, JPEG q75, raw, 1 edge.
    """
    head = [mid, 'jpeg@75', 'raw']
    rates = (20.0, 5.0, 1.0)
    out = []
    for e in (1, 2):
        for c in head:
            out += [Search(c, 'clean', r, 2.0, e, 'headline') for r in rates]
        if e == 1:
            out += [Search(c, 'clean', 1.0, 10.0, 1, '10 Hz') for c in (mid, 'jpeg@75')]
        else:
            breadth = [p for p in points if p != mid] + [c for c in ('jpeg@50', 'jpeg@90', 'webp') if c not in head]
            for c in breadth:
                out.append(Search(c, 'clean', 1.0, 2.0, 2, 'breadth'))
            for c in equal:
                if c not in head and c not in breadth:
                    out.append(Search(c, 'clean', 1.0, 2.0, 2, 'equal accuracy'))
    out += [Search(c, 'lossy', lossy_rate, 2.0, 1, 'lossy') for c in head]
    return out


def frame_link_ms(payload_bytes: float, link_mbps: float) -> float:
    """Serialisation time of one frame's wire bytes at ``link_mbps`` [ms]."""
    return wire_bytes(payload_bytes) * 8 / (link_mbps * 1e6) * 1e3


def frame_packets(payload_bytes: float) -> int:
    """IP packets (fragments) one frame of ``payload_bytes`` is sent as (as ``floor.wire_bytes`` counts them)."""
    sample = payload_bytes + MSG_OVERHEAD
    datagrams = max(1, math.ceil(sample / DDS_MAX_DATAGRAM))
    return max(datagrams, math.ceil((sample + datagrams * (RTPS_OVERHEAD + UDP_HEADER)) / IP_MTU_PAYLOAD))


def link_floor(link_mbps: float, fps: float, frame_bytes: float, overhead_bps: float) -> float:
    """Robots one link direction carries: rate / (wire bits of a frame x fps + per-robot overhead)."""
    need = wire_bytes(frame_bytes) * 8 * fps + overhead_bps
    return link_mbps * 1e6 / need if need > 0 else math.inf


def queue_p95_ms(n: int, fps: float, service_ms: float, *, draws: int = 60, periods: int = 24,
                 seed: int = 0) -> float:
    """p95 time a frame spends on a FIFO link [ms] (waiting + its own serialisation).

    ``n`` robots send one frame each per period at random phases (fixed per draw, as robots
    started at different times do); each frame needs ``service_ms`` of the link. Frames that
    arrive close together queue behind each other, so the p95 grows long before the link is
    full when one frame's serialisation is a sizeable part of the budget. The first two
    periods of each draw (an empty queue) are left out.
    """
    if n < 1:
        return 0.0
    rng = random.Random(seed)
    period = 1e3 / fps
    times = []
    for _ in range(draws):
        phases = [rng.uniform(0, period) for _ in range(n)]
        free = 0.0
        for a in sorted(p + k * period for p in phases for k in range(periods)):
            start = max(a, free)
            free = start + service_ms
            if a >= 2 * period:
                times.append(free - a)
    return percentile(times, 95)


def latency_link_floor(*, link_mbps: float, fps: float, wire_per_frame: float, overhead_bps: float,
                       fixed_ms: float, budget_ms: float, max_n: int = QUEUE_MAX_N) -> float:
    """Robots one link direction carries WITHIN the latency budget (queueing included).

    The largest ``n`` whose p95 on the link (``queue_p95_ms``, the other robots' protocol
    overhead taken off the rate) plus ``fixed_ms`` (encode, edge, the other direction) fits
    ``budget_ms``; 0 when not even one robot does. Always <= the throughput floor.
    """
    bps = link_mbps * 1e6
    best = 0
    for n in range(1, max_n + 1):
        free = bps - n * (overhead_bps if overhead_bps == overhead_bps else 0.0)
        if free <= 0 or n * wire_per_frame * 8 * fps >= free:
            break
        service_ms = wire_per_frame * 8 / free * 1e3
        if fixed_ms + queue_p95_ms(n, fps, service_ms) > budget_ms:
            break
        best = n
    return float(best)


def static_skip(s: Search, *, frame_bytes: float, budget_ms: float, overhead_bps: float,
                loss: float = 0.0) -> str | None:
    """Why search ``s`` has 0 robots within budget without running, or None."""
    ms = frame_link_ms(frame_bytes, s.link_mbps)
    if ms >= budget_ms:
        return (f'0 robots: one {frame_bytes:.0f}-byte frame alone takes {ms:.0f} ms on a {s.link_mbps:g} Mbit/s '
                f'link (budget {budget_ms:g} ms)')
    if loss > 0:
        packets = frame_packets(frame_bytes)
        whole = (1 - loss) ** packets
        if whole < 0.9:
            return (f'0 robots: a frame is {packets} packets; at {loss:.0%} loss (best effort) only '
                    f'{whole:.0%} arrive whole (< 90 %)')
    fl = link_floor(s.link_mbps, s.fps, frame_bytes, overhead_bps)
    if fl < 1:
        return f'0 robots: link floor {fl:.2f} robots (frames + {overhead_bps / 1e3:.0f} kbit/s per robot)'
    return None


def first_failure(rows) -> object | None:
    """The failing cell with the fewest robots of a search (the one that says what stopped it)."""
    bad = [r for r in rows if not r.within_budget]
    return min(bad, key=lambda r: r.robots) if bad else None


def stopped_by(rows) -> str:
    """What stopped a search, from its first failing cell: 'link', 'edge', 'latency' or '-' (none failed).

    'link' when a direction of the veth was >= 85 % busy or its tbf dropped packets, 'edge'
    when the edges were >= 80 % busy, else 'latency' (neither saturated: queueing, robots' CPU).
    """
    r = first_failure(rows)
    if r is None:
        return '-'
    e = r.extra
    up, down = e.get('link_util_up', 0) or 0, e.get('link_util_down', 0) or 0
    if max(up, down) >= LINK_BUSY or (e.get('qdisc_drops_up') or 0) > 0 or (e.get('qdisc_drops_down') or 0) > 0:
        return 'link'
    if (r.edge_util or 0) >= 0.8:
        return 'edge'
    return 'latency'


def second_edge_skip(s: Search, one_edge_rows) -> str | None:
    """Why a multi-edge search is not worth running given its 1-edge search's rows, or None."""
    if s.edges < 2 or not one_edge_rows or stopped_by(one_edge_rows) != 'link':
        return None
    ok = [r.robots for r in one_edge_rows if r.within_budget]
    return (f'link-limited with 1 edge ({max(ok, default=0)} robots; its first failing cell had the link '
            f'>= {LINK_BUSY:.0%} busy): a second edge adds no link capacity')


def start_count(predicted_floor: float, cap: int, ladder=LADDER) -> int:
    """Largest ladder count at most half the predicted floor (and the cap); at least the first."""
    ok = [n for n in ladder if n <= max(1.0, 0.5 * predicted_floor) and n <= cap]
    return ok[-1] if ok else min(ladder[0], cap)


def next_count(results: dict[int, bool], *, start: int, cap: int, ladder=LADDER,
               resolution: float = 0.2, max_bisect: int = 99) -> int | None:
    """The next robot count of a search given ``{count: passed}`` so far; None = done.

    Climbs the ladder (then the cap itself) while every cell passed; steps down the ladder
    while none did; then bisects until ``hi - lo <= max(1, resolution x lo)`` or
    ``max_bisect`` counts off the ladder were tried.
    """
    if not results:
        return max(1, min(start, cap))
    lo = max((n for n, ok in results.items() if ok), default=0)
    hi = min((n for n, ok in results.items() if not ok), default=None)
    if sum(1 for n in results if n not in ladder and n != cap) >= max_bisect:
        return None
    if hi is None:
        up = [n for n in ladder if lo < n <= cap]
        if up:
            return up[0]
        return cap if lo < cap else None
    if lo == 0:
        down = [n for n in ladder if n < hi]
        return down[-1] if down else (None if hi <= 1 else max(1, hi // 2))
    if hi - lo <= max(1, resolution * lo):
        return None
    return (lo + hi) // 2


def confirm_failure(results: dict[int, bool], passed: bool) -> bool:
    """Whether a cell that just failed is measured once more before the search believes it:
    only a search's first cell. It is the one that meets the previous search's robots leaving
    and the new ones joining (their discovery traffic: bursts on a 1 Mbit/s link), and since a
    search never retries above a failure, one disturbed first cell decided the whole search:
    measured, five searches at 1 Mbit/s failed their first cell (p95 0.45-4.0 s, link 30-80 %
    busy) and then passed every smaller count at p95 43-75 ms, ending at 3-7 robots against
    floors of 14-15."""
    return not passed and not results


def cells_estimate(start: int, floor: float, cap: int, ladder=LADDER, resolution: float = 0.2,
                   max_bisect: int = 99) -> int:
    """Cells a search is expected to take if its answer is ~0.8x the predicted floor."""
    answer = max(0.0, min(0.8 * floor, cap))
    results: dict[int, bool] = {}
    kw = dict(start=start, cap=cap, ladder=ladder, resolution=resolution, max_bisect=max_bisect)
    n = next_count(results, **kw)
    while n is not None and len(results) < 20:
        results[n] = n <= answer
        n = next_count(results, **kw)
    return len(results)
