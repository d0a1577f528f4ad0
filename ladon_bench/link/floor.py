"""The link floor and the numbers of one benchmark row (no ROS, no I/O).

The floor is the latency no transport can beat on a given link: the camera's compute,
plus the time the frame's bytes need at the link rate, plus the edge's compute (plus the
relay's added one-way delay, for the lossy setting). The measured p50 over the floor
says how much the middleware, scheduling and queueing cost on top.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

ETH_IP_OVERHEAD = 14 + 20       # Ethernet + IPv4 header bytes per packet on the veth
IP_MTU_PAYLOAD = 1500 - 20      # bytes of a UDP datagram one IP packet (fragment) carries
UDP_HEADER = 8
DDS_MAX_DATAGRAM = 65000        # Fast DDS fragments samples above ~64 KiB (DATA_FRAG)
RTPS_OVERHEAD = 20 + 12 + 36    # RTPS header + INFO_TS + DATA(_FRAG) submessage per datagram
MSG_OVERHEAD = 160              # CDR of the LatentFrame fields around the payload (header, ids, shape)


def wire_bytes(payload_bytes: float) -> float:
    """Bytes one frame of ``payload_bytes`` puts on the veth (Ethernet frames, UDP/IP, RTPS).

    A model of the framing, checked against the veth counters by the benchmark. NaN when
    ``payload_bytes`` is NaN (a case whose every cell delivered no frame has no frame size).
    """
    if math.isnan(payload_bytes):
        return float('nan')
    sample = payload_bytes + MSG_OVERHEAD
    datagrams = max(1, math.ceil(sample / DDS_MAX_DATAGRAM))
    udp = sample + datagrams * (RTPS_OVERHEAD + UDP_HEADER)
    packets = max(datagrams, math.ceil(udp / IP_MTU_PAYLOAD))
    return udp + packets * ETH_IP_OVERHEAD


def link_floor_ms(*, camera_ms: float, payload_bytes: float, link_mbps: float | None, edge_ms: float,
                  delay_ms: float = 0.0) -> float:
    """Camera compute + wire bytes / link rate + edge compute (+ added one-way delay) [ms].

    Args:
        camera_ms: Robot-side encode time (resize, encoder, entropy code) [ms].
        payload_bytes: Bitstream bytes of one frame.
        link_mbps: Link rate [Mbit/s]; ``None`` = no link (the on-robot baseline).
        edge_ms: Edge decode + body + heads time [ms].
        delay_ms: Propagation delay the link adds [ms].
    """
    tx_ms = 0.0 if link_mbps is None else wire_bytes(payload_bytes) * 8 / (link_mbps * 1e6) * 1e3
    return camera_ms + tx_ms + edge_ms + delay_ms


def percentile(values, q: float) -> float:
    """Linear-interpolated ``q``-th percentile (0..100) of ``values``; NaN when empty."""
    v = sorted(float(x) for x in values)
    if not v:
        return math.nan
    k = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def slope_per_s(times_s, values) -> float:
    """Least-squares slope of ``values`` over ``times_s`` (units per second); 0 for < 3 points.

    A latency that keeps rising over a steady run means a queue that grows without bound.
    """
    t, y = list(map(float, times_s)), list(map(float, values))
    if len(t) < 3:
        return 0.0
    mt, my = sum(t) / len(t), sum(y) / len(y)
    var = sum((a - mt) ** 2 for a in t)
    return 0.0 if var == 0 else sum((a - mt) * (b - my) for a, b in zip(t, y)) / var


@dataclass
class BenchRow:
    """One (codec, link setting) result. The first ten fields are the JSON contract.

    Attributes:
        codec: ``'raw'``, ``'jpeg@75'``, ``'webp@75'``, ``'png@3'``, ``'ladon@<beta>'``, ``'local'``.
        setting: ``'clean'`` or ``'lossy'`` (or ``'none'`` for ``local``).
        link_mbps: Shaped rate [Mbit/s] (``None`` for ``local``).
        bytes_per_frame: Mean bitstream bytes per delivered frame.
        fps_offered: Camera frame rate.
        fps_delivered: Frames whose results were published, per second.
        drop_rate: 1 - delivered / offered.
        latency_p50_ms, latency_p95_ms: Capture stamp -> results published.
        floor_ms: ``link_floor_ms`` for this row.
        extra: Per-stage p50s, wire bytes, veth check, keep-latest evidence.
    """

    codec: str
    setting: str
    link_mbps: float | None
    bytes_per_frame: float
    fps_offered: float
    fps_delivered: float
    drop_rate: float
    latency_p50_ms: float
    latency_p95_ms: float
    floor_ms: float
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-ready dict: the contract fields, then ``extra`` flattened; NaN -> None."""
        d = asdict(self)
        extra = d.pop('extra')
        d.update(extra)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
