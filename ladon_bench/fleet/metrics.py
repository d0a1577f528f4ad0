"""The numbers of one fleet cell, its floor, robots within budget and equal-accuracy pairs (no ROS, no I/O).

Input: what each robot recorded (``latent-player --results``: one record per result message
that crossed the link back, ``t`` = arrival at the robot, ``stamp`` = capture, ``bytes`` =
serialized CDR bytes, ``total_ms`` and ``served_by`` on ``frame_stats``), the window's time
span, link and edge counters. Frames are identified per robot by their capture stamp.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields

from ladon_bench.link.floor import ETH_IP_OVERHEAD, IP_MTU_PAYLOAD, RTPS_OVERHEAD, UDP_HEADER, percentile, \
    wire_bytes

RESULT_TOPICS = ('classification', 'detections', 'segmentation/compressed', 'frame_stats')
# The same four as one message per frame (``perception/results``, the thin robot's choice).
BUNDLE_TOPIC = 'results'
# A cell passes when every robot gets at least this share of its frames...
MIN_DELIVERED = 0.9
# ...and frames from one edge batch are published within this span of each other [ms].
BATCH_SPAN_MS = 100.0


@dataclass
class FleetRow:
    """One cell (codec x link x robots x fps x edges). The first fields are the JSON contract."""

    codec: str
    setting: str
    link_mbps: float
    robots: int
    fps: float
    edges: int
    fps_delivered_min: float
    fps_delivered_median: float
    latency_p50_ms: float
    latency_p95_ms: float
    drop_rate: float
    link_util: float
    edge_util: float
    batch_mean: float
    floor_robots: float
    within_budget: bool = False
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-ready dict: contract fields, then ``extra`` flattened; NaN -> None."""
        d = asdict(self)
        d.update(d.pop('extra'))
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}

    @classmethod
    def from_json(cls, d: dict) -> 'FleetRow':
        """The inverse of ``to_json`` (None -> NaN, 'inf' -> inf), to report rows of several runs."""
        def num(v):
            return math.nan if v is None else (math.inf if v == 'inf' else v)
        names = [f.name for f in fields(cls) if f.name != 'extra']
        return cls(**{k: num(d.get(k)) for k in names},
                   extra={k: num(v) for k, v in d.items() if k not in names})


def _wire(payload: float) -> float:
    """``wire_bytes`` that passes NaN (no frame served) through."""
    return wire_bytes(payload) if payload == payload else math.nan


def result_wire_bytes(cdr_bytes: float) -> float:
    """Veth bytes of one reliable result message of ``cdr_bytes`` (RTPS, UDP/IP, Ethernet per packet)."""
    udp = cdr_bytes + RTPS_OVERHEAD + UDP_HEADER
    return udp + max(1, math.ceil(udp / IP_MTU_PAYLOAD)) * ETH_IP_OVERHEAD


def frames_of(records: list[dict]) -> dict[float, dict]:
    """Per capture stamp: arrival of each result topic at the robot, its bytes, and the edge's stats."""
    out: dict[float, dict] = defaultdict(lambda: {'t': {}, 'bytes': 0})
    for r in records:
        f = out[r['stamp']]
        if r['topic'] in f['t']:
            continue  # a duplicate (reliable retransmission seen twice): count it once
        f['t'][r['topic']] = r['t']
        f['bytes'] += r['bytes']
        if r['topic'] in ('frame_stats', BUNDLE_TOPIC):
            f['stats'] = r
    return dict(out)


def complete(frame: dict) -> bool:
    """Every result topic of the frame (or the one message that holds them all) reached the robot."""
    return BUNDLE_TOPIC in frame['t'] or all(t in frame['t'] for t in RESULT_TOPICS)


def robot_latency_ms(stamp: float, frame: dict) -> float:
    """Capture -> the last result message of the frame at the robot [ms]."""
    return (max(frame['t'].values()) - stamp) * 1e3


def batch_sizes(stats: list[dict]) -> list[int]:
    """Realised edge batches, estimated from FrameStats (the edge does not publish them).

    Frames of one batch carry the same ``heads_ms`` (the batch time split equally; one model
    per cell) and are published together; so a batch = frames of one edge with equal
    ``heads_ms`` published within ``BATCH_SPAN_MS``. Only frames whose stats reached a robot count.
    """
    groups: dict[tuple, list[float]] = defaultdict(list)
    for s in stats:
        if s.get('heads_ms') is None:
            continue
        groups[(s['served_by'], s['heads_ms'])].append(s['stamp'] + s['total_ms'] / 1e3)
    sizes = []
    for times in groups.values():
        times.sort()
        n, start = 0, None
        for t in times:
            if start is None or (t - start) * 1e3 > BATCH_SPAN_MS:
                if n:
                    sizes.append(n)
                n, start = 0, t
            n += 1
        sizes.append(n)
    return sizes


@dataclass(frozen=True)
class CellInput:
    """What the harness measured for one cell (besides the robots' records)."""

    codec: str
    setting: str
    link_mbps: float
    robots: int
    fps: float
    edges: int
    t0: float
    t1: float
    t_check: float              # end of the veth check span (late frames of the window are in)
    budget_ms: float
    up_tx_bytes: int            # robot-side veth tx in the window
    down_tx_bytes: int          # base-side veth tx in the window
    up_tx_bytes_check: int      # robot-side veth tx from t0 until the late frames were in
    down_tx_bytes_check: int    # base-side veth tx over the same longer span
    edge_cpu_s: tuple[float, ...]  # CPU seconds of each edge process in the window
    player_cpu_s: float         # CPU seconds of all robot processes in the window
    encode_ms_p50: float        # robot-side encode of the replayed frames
    frame_bytes: float = math.nan  # mean payload of the replayed frames (the floor's when none was served)
    qdisc_drops_up: int = 0
    qdisc_drops_down: int = 0
    loadavg_1min: float = math.nan
    # The edges' own counters over (about) the window, from their /diagnostics pipeline
    # status (batches_run, frames_batched); NaN when no status bracketed the window.
    diag_batches: float = math.nan
    diag_frames_batched: float = math.nan
    # Per-robot protocol overhead [bit/s] each way to use when this cell cannot measure its
    # own (a saturated link): the run's median so far, or plan.OVERHEAD_PRIOR_BPS.
    overhead_prior_up_bps: float = math.nan
    overhead_prior_down_bps: float = math.nan


def cell_row(c: CellInput, per_robot: list[list[dict]]) -> FleetRow:
    """The row of one cell from each robot's records (records of any time; the window selects)."""
    span = c.t1 - c.t0
    offered = c.fps * span
    delivered, rob_lat, edge_lat, stats, up_payload, down_bytes, published = [], [], [], [], [], [], []
    down_msgs = []  # result messages per delivered frame: 4 split topics, or 1 (perception/results)
    for recs in per_robot:
        frames = frames_of(recs)
        n = 0
        for stamp, f in frames.items():
            if c.t0 <= stamp <= c.t1:
                if 'stats' in f:
                    s = f['stats']
                    stats.append(s)
                    edge_lat.append(s['total_ms'])
                    up_payload.append(s['payload_bytes'])
                if complete(f):
                    n += 1
                    rob_lat.append(robot_latency_ms(stamp, f))
                    down_bytes.append(f['bytes'])
                    down_msgs.append(len(f['t']))
        delivered.append(n / span if span > 0 else 0.0)
        seqs = [f['stats']['seq'] for s, f in frames.items() if c.t0 <= s <= c.t1 and 'stats' in f]
        published.append((max(seqs) - min(seqs) + 1) / span if len(seqs) >= 2 and span > 0 else math.nan)
    # Down-link proof: every result message that arrived in [t0, t_check] crossed the veth.
    down_arrived = sum(r['bytes'] for recs in per_robot for r in recs if c.t0 <= r['t'] <= c.t_check)
    # Wire bytes of the result messages that arrived in the window (each its own RTPS/UDP/IP framing).
    down_msgs_wire = sum(result_wire_bytes(r['bytes']) for recs in per_robot for r in recs if c.t0 <= r['t'] <= c.t1)
    frames_delivered = len(rob_lat)
    p95 = percentile(rob_lat, 95)
    within = bool(delivered and min(delivered) >= MIN_DELIVERED * c.fps and frames_delivered
                  and p95 <= c.budget_ms)
    up_b = sum(up_payload) / len(up_payload) if up_payload else c.frame_bytes
    down_b = sum(down_bytes) / len(down_bytes) if down_bytes else math.nan
    msgs = sum(down_msgs) / len(down_msgs) if down_msgs else len(RESULT_TOPICS)
    edge_ms = percentile([s['decode_ms'] + s['heads_ms'] for s in stats], 50)
    served = len(stats)
    edge_cpu = sum(c.edge_cpu_s)
    floor = floor_robots(link_mbps=c.link_mbps, fps=c.fps, up_bytes=up_b, down_msgs_bytes=down_b, edges=c.edges,
                         edge_ms=edge_ms, down_messages=msgs)
    link_bps = c.link_mbps * 1e6
    sizes = batch_sizes(stats)
    up_model = sum(wire_bytes(b) for b in up_payload)
    # Per-robot protocol overhead: veth bytes beyond the frames every robot published (up) and
    # the result messages that arrived (down), per robot and second. Only where the link was
    # not saturated (a full tbf drops frames, so the difference would not be overhead).
    pub = [x for x in published if x == x]
    frames_sent = (sum(pub) / len(pub) if pub else c.fps) * span * c.robots
    clear_up = c.qdisc_drops_up == 0 and span > 0 and c.up_tx_bytes * 8 / span < 0.85 * link_bps
    clear_down = c.qdisc_drops_down == 0 and span > 0 and c.down_tx_bytes * 8 / span < 0.85 * link_bps
    ovh_up = ((c.up_tx_bytes - frames_sent * _wire(up_b)) * 8 / span / c.robots
              if clear_up and up_b == up_b else math.nan)
    ovh_down = (c.down_tx_bytes - down_msgs_wire) * 8 / span / c.robots if clear_down and frames_delivered else math.nan
    use_up = ovh_up if ovh_up == ovh_up else c.overhead_prior_up_bps
    use_down = ovh_down if ovh_down == ovh_down else c.overhead_prior_down_bps
    edge_cpu_ms = edge_cpu * 1e3 / served if served else math.nan
    proto = {'up': proto_link_floor(link_bps, c.fps, _wire(up_b), use_up),
             'down': proto_link_floor(link_bps, c.fps, down_wire(down_b, msgs), use_down),
             'edge': capacity(c.edges * 1e3, edge_cpu_ms * c.fps)}
    realised = (c.diag_frames_batched / c.diag_batches if c.diag_batches and c.diag_batches == c.diag_batches
                else math.nan)
    extra = {
        'latency_edge_p50_ms': percentile(edge_lat, 50), 'latency_edge_p95_ms': percentile(edge_lat, 95),
        'frames_offered': offered * c.robots, 'frames_delivered': frames_delivered, 'frames_served_edge': served,
        'bytes_up_per_frame': up_b, 'bytes_down_per_frame': down_b, 'result_messages_per_frame': msgs,
        'veth_up_bytes_per_frame': c.up_tx_bytes / served if served else math.nan,
        'veth_down_bytes_per_frame': c.down_tx_bytes / frames_delivered if frames_delivered else math.nan,
        'link_util_up': c.up_tx_bytes * 8 / span / link_bps if span > 0 else math.nan,
        'link_util_down': c.down_tx_bytes * 8 / span / link_bps if span > 0 else math.nan,
        # Proof that nothing bypassed the veth: at least the modelled wire bytes of the served
        # frames (up) and the CDR bytes of the results that arrived (down) crossed it.
        'veth_up_covers_served': bool(c.up_tx_bytes_check >= 0.95 * up_model),
        'veth_down_covers_received': bool(c.down_tx_bytes_check >= 0.95 * down_arrived),
        'edge_ms_p50': edge_ms,
        # What the robots published (sequence span of the served frames): below fps = the load
        # generator itself was short of CPU, not the system under test.
        'fps_published_min': min((x for x in published if x == x), default=math.nan),
        'edge_cpu_ms_per_frame': edge_cpu * 1e3 / served if served else math.nan,
        'edge_util_each': [round(x / span, 3) for x in c.edge_cpu_s] if span > 0 else [],
        'robot_cpu_cores': c.player_cpu_s / span if span > 0 else math.nan,
        'encode_ms_p50': c.encode_ms_p50,
        'floor_link_up_robots': capacity(link_bps, _wire(up_b) * 8 * c.fps),
        'floor_link_down_robots': capacity(link_bps, down_wire(down_b, msgs) * 8 * c.fps),
        'floor_edge_robots': capacity(c.edges * 1e3, edge_ms * c.fps),
        'floor_ms': c.encode_ms_p50 + (_wire(up_b) + down_wire(down_b, msgs)) * 8 / link_bps * 1e3 + edge_ms,
        'batches': len(sizes), 'qdisc_drops_up': c.qdisc_drops_up, 'qdisc_drops_down': c.qdisc_drops_down,
        'loadavg_1min': c.loadavg_1min, 'budget_ms': c.budget_ms, 'window_s': span,
        # The edges' realised batch size (their own counters) and the estimate from FrameStats.
        'batch_source': 'edge diagnostics' if realised == realised else 'estimate (FrameStats)',
        'batch_mean_estimated': sum(sizes) / len(sizes) if sizes else math.nan,
        'edge_batches_window': c.diag_batches, 'edge_frames_batched_window': c.diag_frames_batched,
        'overhead_up_bps_per_robot': ovh_up, 'overhead_down_bps_per_robot': ovh_down,
        'overhead_used_up_bps': use_up, 'overhead_used_down_bps': use_down,
        # Protocol-aware floor: the link must also carry every robot's measured DDS overhead;
        # the edge floor from the edges' CPU per served frame (decode, heads, publishing, DDS).
        'floor_proto_link_up_robots': proto['up'], 'floor_proto_link_down_robots': proto['down'],
        'floor_edge_cpu_robots': proto['edge'],
        'floor_proto_robots': _min_known(proto.values()),
        # Within the latency budget: frames that arrive close together queue on the link, so a
        # link that carries N robots' bytes may still miss the p95 budget well before N.
        'floor_queue_link_up_robots': _queue_floor(c, up_b, down_b, use_up, edge_ms, msgs),
    }
    return FleetRow(
        c.codec, c.setting, c.link_mbps, c.robots, c.fps, c.edges,
        min(delivered) if delivered else 0.0, percentile(delivered, 50) if delivered else 0.0,
        percentile(rob_lat, 50), p95, max(0.0, 1.0 - frames_delivered / (offered * c.robots)) if offered else math.nan,
        extra['link_util_up'], edge_cpu / span / c.edges if span > 0 else math.nan,
        realised if realised == realised else extra['batch_mean_estimated'], floor, within, extra)


def add_queue_floor(row: FleetRow) -> FleetRow:
    """Fills ``floor_queue_link_up_robots`` of a row read back from an older JSON (from its own fields)."""
    e = row.extra
    if e.get('floor_queue_link_up_robots') is None or e.get('floor_queue_link_up_robots') != e.get(
            'floor_queue_link_up_robots'):
        c = CellInput(codec=row.codec, setting=row.setting, link_mbps=row.link_mbps, robots=row.robots, fps=row.fps,
                      edges=row.edges, t0=0.0, t1=1.0, t_check=1.0, budget_ms=e.get('budget_ms', 250.0),
                      up_tx_bytes=0, down_tx_bytes=0, up_tx_bytes_check=0, down_tx_bytes_check=0, edge_cpu_s=(),
                      player_cpu_s=0.0, encode_ms_p50=e.get('encode_ms_p50', 0.0))
        e['floor_queue_link_up_robots'] = _queue_floor(c, e.get('bytes_up_per_frame', math.nan),
                                                       e.get('bytes_down_per_frame', math.nan),
                                                       e.get('overhead_used_up_bps', math.nan),
                                                       e.get('edge_ms_p50', math.nan),
                                                       e.get('result_messages_per_frame', len(RESULT_TOPICS)))
    return row


def _queue_floor(c: CellInput, up_b: float, down_b: float, overhead_bps: float, edge_ms: float,
                 down_messages: float = len(RESULT_TOPICS)) -> float:
    from ladon_bench.fleet.plan import latency_link_floor
    if up_b != up_b or c.link_mbps <= 0:
        return math.nan
    down_ms = down_wire(down_b, down_messages) * 8 / (c.link_mbps * 1e6) * 1e3 if down_b == down_b else 0.0
    fixed = c.encode_ms_p50 + (edge_ms if edge_ms == edge_ms else 0.0) + down_ms
    return latency_link_floor(link_mbps=c.link_mbps, fps=c.fps, wire_per_frame=_wire(up_b), overhead_bps=overhead_bps,
                              fixed_ms=fixed, budget_ms=c.budget_ms)


def _min_known(values) -> float:
    known = [x for x in values if x == x]
    return min(known) if known else math.nan


def proto_link_floor(link_bps: float, fps: float, wire_per_frame: float, overhead_bps: float) -> float:
    """Robots one link direction carries with each robot's protocol overhead counted (NaN overhead = 0)."""
    if wire_per_frame != wire_per_frame:
        return math.nan
    return capacity(link_bps, wire_per_frame * 8 * fps + (overhead_bps if overhead_bps == overhead_bps else 0.0))


def down_wire(msgs_bytes: float, messages: float = len(RESULT_TOPICS)) -> float:
    """Veth bytes of one frame's result messages (``messages`` of them, ``msgs_bytes`` CDR bytes in all)."""
    if msgs_bytes != msgs_bytes:
        return math.nan
    # Most of the bytes are in the segmentation PNG: model the messages as one of the total
    # plus the per-message overhead of the others (none for perception/results).
    return result_wire_bytes(msgs_bytes) + (messages - 1) * (RTPS_OVERHEAD + UDP_HEADER + ETH_IP_OVERHEAD)


def capacity(budget: float, cost_per_robot: float) -> float:
    """``budget / cost`` (robots a resource carries), NaN when the cost is unknown, inf when 0."""
    if cost_per_robot != cost_per_robot:
        return math.nan
    return math.inf if cost_per_robot <= 0 else budget / cost_per_robot


def floor_robots(*, link_mbps: float, fps: float, up_bytes: float, down_msgs_bytes: float, edges: int,
                 edge_ms: float, down_messages: float = len(RESULT_TOPICS)) -> float:
    """Robots the link (each direction) and the edges can carry at ``fps``: the smallest of the three.

    Link: bit rate / (wire bytes of one frame x 8 x fps), up (the frame) and down (its results).
    Edge: ``edges`` cores / (decode + heads per frame x fps) (heads = the frame's share of its batch).
    """
    bps = link_mbps * 1e6
    caps = [capacity(bps, _wire(up_bytes) * 8 * fps),
            capacity(bps, down_wire(down_msgs_bytes, down_messages) * 8 * fps), capacity(edges * 1e3, edge_ms * fps)]
    known = [x for x in caps if x == x]
    return min(known) if known else math.nan


def robots_within_budget(rows: list[FleetRow]) -> int:
    """Largest robot count of a group (one codec, link, fps, edges) whose cell passed; 0 if none."""
    ok = [r.robots for r in rows if r.within_budget]
    return max(ok) if ok else 0


def group_key(r: FleetRow) -> tuple:
    """(codec, setting, link, fps, edges): one robot-count search."""
    return (r.codec, r.setting, r.link_mbps, r.fps, r.edges)


def headline(rows: list[FleetRow], skipped: list[dict] = ()) -> list[dict]:
    """Robots within budget per search group, with both floors, the ratios to them and what limited it.

    ``floor_robots``: frames and results only (the link's raw capacity, the edge's decode +
    heads); ``floor_proto_robots``: the link directions with every robot's measured protocol
    overhead, the edge from its CPU per served frame. ``limited_by``: the smallest protocol-aware
    floor; ``stopped_by``: what the first failing cell showed (``plan.stopped_by``).
    ``skipped``: searches not run (``plan`` skip dicts), listed with their reason.
    """
    from ladon_bench.fleet.plan import stopped_by
    groups: dict[tuple, list[FleetRow]] = {}
    for r in rows:
        groups.setdefault(group_key(r), []).append(r)
    out = []
    for key, g in groups.items():
        n = robots_within_budget(g)
        floors = [r.floor_robots for r in g if r.floor_robots == r.floor_robots]
        # The floor of the search: measured in its largest passing cell, else in its first.
        ref = max((r for r in g if r.within_budget), key=lambda r: r.robots, default=g[0])
        floor = ref.floor_robots if ref.floor_robots == ref.floor_robots else (min(floors) if floors else math.nan)
        proto = ref.extra.get('floor_proto_robots', math.nan)
        queue = ref.extra.get('floor_queue_link_up_robots', math.nan)
        out.append({'codec': key[0], 'setting': key[1], 'link_mbps': key[2], 'fps': key[3], 'edges': key[4],
                    'robots_within_budget': n, 'floor_robots': floor, 'floor_proto_robots': proto,
                    'floor_queue_link_up_robots': queue,
                    'limited_by': _limit(ref), 'stopped_by': stopped_by(g),
                    'within_over_floor': _ratio(n, floor), 'within_over_proto_floor': _ratio(n, proto),
                    'within_over_queue_floor': _ratio(n, queue),
                    'robots_tried': [r.robots for r in g], 'skipped': ''})
    for sk in skipped:
        out.append({**sk, 'floor_robots': sk.get('floor_robots', math.nan),
                    'floor_proto_robots': sk.get('floor_proto_robots', math.nan),
                    'limited_by': sk.get('limited_by', '-'),
                    'floor_queue_link_up_robots': math.nan, 'within_over_queue_floor': math.nan,
                    'stopped_by': '-', 'within_over_floor': math.nan, 'within_over_proto_floor': math.nan,
                    'robots_tried': []})
    return out


def _ratio(n: float, floor) -> float:
    if floor is None or floor != floor or floor in (0, math.inf):
        return math.nan
    return n / floor


def _limit(r: FleetRow) -> str:
    e = r.extra
    caps = {'link up': e.get('floor_proto_link_up_robots', e.get('floor_link_up_robots', math.nan)),
            'link down': e.get('floor_proto_link_down_robots', e.get('floor_link_down_robots', math.nan)),
            'edge': e.get('floor_edge_cpu_robots', e.get('floor_edge_robots', math.nan))}
    caps = {k: v for k, v in caps.items() if v is not None and v == v}
    return min(caps, key=caps.get) if caps else '-'


# RTPS classes of ``rtps_census`` that are protocol overhead by themselves (user_data and
# ip_fragment carry the frames and results; the overhead in them is what the model leaves).
CENSUS_OVERHEAD_CLASSES = ('spdp', 'sedp', 'wlp', 'type_lookup', 'builtin_other', 'builtin_hb', 'builtin_ack',
                           'builtin_gap', 'user_hb', 'user_ack', 'user_gap', 'rtps_empty', 'other')


def census_per_robot_bps(up: dict | None, down: dict | None, robots: int) -> dict:
    """Per-robot bit/s by RTPS class of one window's censuses (robot veth = up, base veth = down).

    Returns ``census_up_bps`` and ``census_down_bps`` ({class: bit/s per robot}),
    ``census_up_seconds``/``census_down_seconds`` and the raw censuses ``census_up``/``census_down``
    (packets, flows); a missing census gives an empty dict.
    """
    out = {}
    for side, c in (('up', up), ('down', down)):
        if not c or not robots:
            out[f'census_{side}_bps'] = {}
            continue
        secs = float(c['seconds'])
        out[f'census_{side}_bps'] = {k: v * 8 / secs / robots for k, v in sorted(c['bytes'].items())}
        out[f'census_{side}_seconds'] = secs
        out[f'census_{side}'] = c  # raw: packets and flows (destination port, frame size) per class
    return out


# Per-datagram framing that the wire model (floor.RTPS_OVERHEAD: RTPS header, INFO_TS, DATA
# header) leaves out: INFO_DST (16 B, every unicast datagram) and the statistics submessage
# (60 B) of the Fast DDS build the ROS wheels ship. Part of each frame's and result's own
# bytes, not protocol traffic beside them; reported apart so both readings stay visible.
FRAMING_RIDERS = ('statistics', 'info_dst')


def census_overhead_split(row: FleetRow, side: str) -> dict:
    """{part: bit/s per robot} of the overhead of ``side`` ('up'/'down').

    The measured overhead (veth minus the modelled frames or results,
    ``overhead_<side>_bps_per_robot``) split into: the pure-protocol classes of the census
    (spdp, wlp, acknacks, heartbeats, ...); ``framing:statistics`` and ``framing:info_dst``
    riding in the frame/result datagrams (``FRAMING_RIDERS``); ``piggyback_hb`` riding there
    too; ``user_data_residual``: the rest (ros_discovery_info samples, the model's error).
    """
    census = row.extra.get(f'census_{side}_bps') or {}
    split = {k: census.get(k, 0.0) for k in CENSUS_OVERHEAD_CLASSES if census.get(k)}
    raw = row.extra.get(f'census_{side}') or {}
    secs = raw.get('seconds') or 0
    if secs and row.robots:
        ride = raw.get('user_data_riders') or {}
        for k in (*FRAMING_RIDERS, 'piggyback_hb'):
            if ride.get(k):
                split[f'framing:{k}' if k in FRAMING_RIDERS else k] = ride[k] * 8 / secs / row.robots
    total = row.extra.get(f'overhead_{side}_bps_per_robot', math.nan)
    if total is not None and total == total:
        split['user_data_residual'] = total - sum(split.values())
    return split


def protocol_overhead_bps(row: FleetRow, side: str) -> float:
    """The overhead of ``side`` per robot [bit/s] without the per-datagram framing of the frames
    and results themselves (``FRAMING_RIDERS``): traffic that is not a frame or a result."""
    split = census_overhead_split(row, side)
    total = row.extra.get(f'overhead_{side}_bps_per_robot', math.nan)
    if total is None or total != total or not (row.extra.get(f'census_{side}') or {}):
        return math.nan
    return total - sum(v for k, v in split.items() if k.startswith('framing:'))


def join_seconds(records: list[dict], fps: float) -> float:
    """Seconds from a robot's first frame to its first complete-enough result (its first frame_stats).

    The first frame's publish time is read back from the first result: its capture stamp minus
    its sequence number over ``fps`` (the player numbers its frames from 0 at start).
    """
    for r in records:
        if r.get('topic') in ('frame_stats', BUNDLE_TOPIC) and r.get('seq') is not None:
            return r['t'] - (r['stamp'] - r['seq'] / fps)
    return math.nan

