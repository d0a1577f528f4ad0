"""The fleet on real DDS: a hostile robot, the bytes a robot gets back, and a site behind a router.

Robots are ``latent-player`` processes (frames encoded beforehand by the real camera encoder,
no torch), the hostile robot a ``hostile-player`` process (``ladon_ros.ros.tools.bench_nodes``),
the edge a real ``edge_perception`` process. The probe (this process) records frame_stats,
the edge's ``/diagnostics`` and the bytes of the latents on the wire. Numbers are printed;
the asserted limits are the issue's (and the RSS bound stated below). The site
test (network namespaces, a router, a discovery server) needs root.
"""
from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import statistics
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

from ladon_ros.msg import FrameStats, LatentFrame  # noqa: E402
from ros_harness import NodeProcesses, Probe, ros_domain  # noqa: E402

pytestmark = pytest.mark.ros

HONEST = ('/robot1', '/robot2')
HOSTILE = '/intruder'
# The same hostile-player in a namespace the edge denies: it floods during the calm windows, so
# both kinds of window carry the same flooding process (its CPU, its DDS traffic) and they
# differ only in whether the edge receives the flood.
DECOY = '/decoy/intruder'
# The intruder's crafted kinds (bench_nodes.HostilePlayer) and the edge's reasons for refusing each.
KIND_REASONS = {'huge_image': ('bad_image_size',), 'random_body': ('bad_encoding', 'bad_symbols'),
                'foreign_model': ('weights_mismatch',)}
EDGE_PARAMS = {'serve_image_codecs': False, 'publish_debug_image': False}
WINDOWS = ('calm', 'flood')
BLOCK = ('calm', 'flood', 'flood', 'calm')  # one ABBA block: a linear drift in load cancels within it
BLOCKS = 8
WINDOW_ORDER = BLOCK * BLOCKS
WINDOW_S = 2.5   # counted; ~15 served frames per robot and window
# The edge's CPU budget while measured (cgroup v1 quota, needs root): the edge is saturated and
# gets the same CPU in calm and flood windows whatever else this shared machine runs. Without
# it the edge took 0.31-0.42 cores here, more in some flood windows than in calm ones, and the
# rate ratio said more about the neighbours than about the edge.
# 0.4 core: saturated (two 10 Hz robots need 0.5-0.7 at the 25-37 ms per frame measured
# here; 0.5 core served 8.7 of 10 Hz per robot), with ~1.6x the frames per window of 0.25.
EDGE_CORES = 0.4
# The quota caps the edge; its group's cpu.shares (10x a default process's weight) make it GET
# those cores while the machine's other jobs want both: with default shares, at load
# averages of 6-8 the group got less in some windows than in others, and the served rates
# moved +-10 % between runs for reasons outside the edge.
EDGE_SHARES = 10240
SETTLE_S = 0.5   # after each switch, not counted (a batch in flight, the intruder's timer restarting)
# Peak RSS (VmHWM) of the edge process after the flood. Measured here: see the report the
# test prints (about 0.8 GB without and with the flood); the bound leaves room for allocator
# noise, not for a buffer that grows with the flood (200 frames/s x 8 s of 16384^2 claims
# would be far above it).
RSS_BOUND_MB = 1500
COMPACT_TOPICS = ('classification', 'detections', 'segmentation/compressed', 'frame_stats')


def _stamp_key(stamp) -> float:
    # The same float bench_nodes writes for a result's stamp (``_stamp_s``).
    return round(stamp.sec + stamp.nanosec * 1e-9, 6)


class IsolationProbe(Probe):
    """Records frame_stats per robot, the edge's per-robot diagnostics and the latents' wire bytes."""

    def __init__(self, domain_id: int, robots, latent_of=()):
        super().__init__('isolation_probe', domain_id)
        self.stats = collections.defaultdict(list)   # robot -> [arrival monotonic]
        self.robot_diag = {}                          # robot -> {key: value} of its last edge status
        self.latent_bytes = {}                        # stamp -> serialized LatentFrame bytes
        deep = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for ns in robots:
            self.node.create_subscription(FrameStats, f'{ns}/perception/frame_stats',
                                          lambda m, ns=ns: self.stats[ns].append(time.monotonic()), deep)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, deep)
        for ns in latent_of:
            # raw=True: the CDR bytes as they crossed the link (what the robot sent).
            self.node.create_subscription(LatentFrame, f'{ns}/latent', self._on_latent,
                                          QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT), raw=True)

    def _on_diagnostics(self, m):
        for s in m.status:
            if s.name.startswith('edge_perception: robot '):
                self.robot_diag[s.name.rsplit(' ', 1)[1]] = {kv.key: kv.value for kv in s.values}

    def _on_latent(self, raw: bytes):
        from rclpy.serialization import deserialize_message
        m = deserialize_message(raw, LatentFrame)
        self.latent_bytes[_stamp_key(m.header.stamp)] = len(raw)

    def served_between(self, ns, t0, t1) -> int:
        return sum(t0 <= t < t1 for t in self.stats[ns])

    def served_rate(self, ns, t0, t1) -> float:
        """Results per second in [t0, t1): intervals between the first and last result in the
        window, not a count, so the rate is not quantised to whole frames per window."""
        ts = [t for t in self.stats[ns] if t0 <= t < t1]
        return (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) >= 3 else len(ts) / (t1 - t0)


@pytest.fixture(scope='module')
def frames_file(tmp_path_factory):
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.codec.wire import save_frames
    from ladon_ros.world import SceneGenerator
    from ladon_ros.weights import default_checkpoint
    enc = make_camera_encoder(codec='ladon', checkpoint=default_checkpoint('ladon'))
    gen = SceneGenerator(seed=3, image_size=(480, 640))  # (H, W): a 640x480 camera
    path = tmp_path_factory.mktemp('isolation') / 'frames.json'
    save_frames(path, [enc.encode(gen.sample(i).image) for i in range(6)])
    return path


def _label(ns: str) -> str:
    return f'robot{ns.replace("/", "_")}'


def _player(procs, ns, frames_file, *extra, role='latent-player', rate_hz=10, label=None):
    return procs.start_command(label or _label(ns), [
        sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', role, '--frames', str(frames_file),
        '--rate-hz', str(rate_hz), *extra, '--ros-args', '-r', f'__ns:={ns}'])


def _peak_rss_mb(pid: int) -> float:
    with open(f'/proc/{pid}/status') as fh:
        line = next(ln for ln in fh if ln.startswith('VmHWM:'))
    return int(line.split()[1]) / 1024  # kB -> MB


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    with open(f'/proc/{pid}/stat') as fh:
        fields = fh.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _sent_rate(log: str, windows) -> str:
    """The hostile-player's publish rate within ``windows`` (wall times), from its 1 Hz 'sent' lines."""
    points = []
    for line in log.splitlines():
        if line.startswith('{"sent"'):
            r = json.loads(line)
            points.append((r['t'], r['sent']))
    n = dt = 0.0
    for (ta, sa), (tb, sb) in zip(points, points[1:]):
        if any(w0 <= ta and tb <= w1 for w0, w1 in windows):
            n, dt = n + sb - sa, dt + tb - ta
    return f'{n / dt:.0f}' if dt else 'n/a'


def _logs(procs) -> str:
    return '\n'.join(f'--- {k}\n{procs.log(k)[-1500:]}' for k in procs.procs)


@pytest.fixture(scope='module')
def flood(frames_file, tmp_path_factory):
    """One run: 2 honest robots, then an intruder flooding crafted frames; returns what was measured."""
    from ladon_bench.link.cgroup import CpuQuota, unavailable_reason
    logs = tmp_path_factory.mktemp('flood_logs')
    no_quota = unavailable_reason()
    with contextlib.ExitStack() as stack:
        # Entered first, so closed last: closing kills what is still in the group.
        quota = None if no_quota else stack.enter_context(CpuQuota(EDGE_CORES, 'edge'))
        dom = ros_domain('fleet_isolation8')
        procs = stack.enter_context(NodeProcesses(dom, logs, {'OMP_NUM_THREADS': '1'}))
        probe = stack.enter_context(IsolationProbe(dom, (*HONEST, HOSTILE)))
        return _flood_run(procs, probe, frames_file, quota, no_quota)


def _flood_run(procs, probe, frames_file, quota, no_quota):
    """The flood scenario in running processes (``flood``); the edge joins ``quota`` once serving."""
    for ns in HONEST:
        _player(procs, ns, frames_file)
    edge = procs.start('edge_perception', label='edge', namespace='/base1',
                       params={**EDGE_PARAMS, 'robot_patterns': ['*', f'!{DECOY}']})
    assert probe.spin_until(lambda: all(len(probe.stats[r]) >= 5 for r in HONEST), 120), _logs(procs)
    if quota is not None:
        quota.add(edge.pid)  # loaded at full speed, measured on a fixed budget
        (quota.path / 'cpu.shares').write_text(str(EDGE_SHARES))
    probe.spin_for(3.0)  # past the warm-up
    rss_calm = _peak_rss_mb(edge.pid)

    def intruder(key):
        return int(probe.robot_diag.get(HOSTILE, {}).get(key, 0))
    # Prelude: the intruder's crafted kinds in turn at 5 Hz until the edge has refused each of
    # them (so every kind's reason is counted), stopped well before quarantine_after (20) frames
    # reach the edge. The flood's kinds are random and the edge checks only the few frames
    # keep-latest hands it before the quarantine: in one run of 7 checked frames none was
    # foreign_model. Not a fixed count: the frames sent before the edge finds the new robot in
    # the graph are lost (4 of 6 in one fresh-clone run).
    prelude = f'{_label(HOSTILE)}_prelude'
    _player(procs, HOSTILE, frames_file, '--kinds', ','.join(KIND_REASONS), '--order', 'cycle',
            role='hostile-player', rate_hz=5, label=prelude)
    assert probe.spin_until(lambda: all(any(intruder(f'rejected_{r}') for r in rs) for rs in KIND_REASONS.values()),
                            60), _logs(procs)
    procs.stop(prelude)
    assert not intruder('quarantines'), _logs(procs)
    prelude_rejected = intruder('frames_rejected')

    flooders = {ns: _player(procs, ns, frames_file, '--kinds', ','.join(KIND_REASONS),
                            role='hostile-player', rate_hz=200) for ns in (HOSTILE, DECOY)}
    # The edge refuses the flood's frames, then quarantines the intruder (quarantine_after
    # refused frames in a row): measured from then on, the long-run state of a flood.
    t_start = time.monotonic()
    assert probe.spin_until(lambda: intruder('frames_rejected') > prelude_rejected, 60), _logs(procs)
    t_rejected = time.monotonic()
    assert probe.spin_until(lambda: intruder('quarantines') > 0, 120), _logs(procs)
    t_quarantined = time.monotonic()
    rejected_before = intruder('frames_rejected')
    # Calm and flood windows interleaved (ABBA...): the other processes sharing this
    # machine change its load over seconds, which would bias two long phases. Calm = the
    # intruder stopped (SIGSTOP, still in the graph) and the decoy flooding; flood = the
    # other way round.
    served = {w: collections.Counter() for w in WINDOWS}
    block_rates = [{w: collections.defaultdict(list) for w in WINDOWS} for _ in range(BLOCKS)]
    window_served = []  # the first honest robot's served frames, window by window (printed)
    seconds = collections.Counter()
    edge_cpu = collections.Counter()
    walls = collections.defaultdict(list)
    for i, window in enumerate(WINDOW_ORDER):
        os.kill(flooders[HOSTILE].pid, signal.SIGCONT if window == 'flood' else signal.SIGSTOP)
        os.kill(flooders[DECOY].pid, signal.SIGSTOP if window == 'flood' else signal.SIGCONT)
        probe.spin_for(SETTLE_S)
        t0, cpu0, wall0 = time.monotonic(), _cpu_s(edge.pid), time.time()
        probe.spin_for(WINDOW_S)
        t1 = time.monotonic()
        for r in HONEST:
            n = probe.served_between(r, t0, t1)
            served[window][r] += n
            block_rates[i // len(BLOCK)][window][r].append(probe.served_rate(r, t0, t1))
        window_served.append(probe.served_between(HONEST[0], t0, t1))
        seconds[window] += t1 - t0
        edge_cpu[window] += _cpu_s(edge.pid) - cpu0
        walls[window].append((wall0, time.time()))
    for p in flooders.values():
        os.kill(p.pid, signal.SIGCONT)
    probe.spin_for(1.5)  # one more diagnostics period
    diag = dict(probe.robot_diag[HOSTILE])
    rss_peak = _peak_rss_mb(edge.pid)
    assert procs.alive('edge'), _logs(procs)

    rate = {w: {r: served[w][r] / seconds[w] for r in HONEST} for w in WINDOWS}
    # Per robot and ABBA block: flood / calm served rate; their median is what is asserted, so
    # one window disturbed by something outside the edge cannot decide.
    block_ratio = {r: [statistics.mean(b['flood'][r]) / max(statistics.mean(b['calm'][r]), 1e-9)
                       for b in block_rates] for r in HONEST}
    # Edge CPU per honest frame served: what the flood adds although its own frames are refused.
    per_frame_ms = {w: 1e3 * edge_cpu[w] / max(1, sum(served[w].values())) for w in WINDOWS}
    reasons = {k[len('rejected_'):]: int(v) for k, v in diag.items() if k.startswith('rejected_')}
    report = [
        f'served rate [Hz] of the honest robots (10 Hz each), {len(WINDOW_ORDER) // 2} x {WINDOW_S:g} s '
        'windows without / with the flood: ' +
        ', '.join(f'{r} {rate["calm"][r]:.2f} / {rate["flood"][r]:.2f} '
                  f'({rate["flood"][r] / max(rate["calm"][r], 1e-9):.0%})' for r in HONEST),
        'flood / calm served rate per ABBA block: ' + ', '.join(
            f'{r} median {statistics.median(v):.0%} ({" ".join(f"{x:.0%}" for x in v)})'
            for r, v in block_ratio.items()),
        f'{HONEST[0]} served per window: ' + ' '.join(f'{w[0]}{n}' for w, n in zip(WINDOW_ORDER, window_served)),
        f'crafted frames/s published: intruder {_sent_rate(procs.log(_label(HOSTILE)), walls["flood"])} '
        f'(flood windows), decoy {_sent_rate(procs.log(_label(DECOY)), walls["calm"])} (calm windows)',
        f'intruder at the edge: frames_received {diag.get("frames_received")}, frames_dropped_stale '
        f'{diag.get("frames_dropped_stale")}, frames_rejected {diag["frames_rejected"]} ({prelude_rejected} '
        f'of the prelude, {int(diag["frames_rejected"]) - rejected_before} in the windows) {reasons}, '
        f'served {len(probe.stats[HOSTILE])}, edge_time_s {diag.get("edge_time_s")}, quarantines '
        f'{diag.get("quarantines")} (first refusal {t_rejected - t_start:.1f} s after its start, first '
        f'quarantine {t_quarantined - t_rejected:.1f} s later)',
        f'edge CPU [cores] calm / flood: {edge_cpu["calm"] / seconds["calm"]:.2f} / '
        f'{edge_cpu["flood"] / seconds["flood"]:.2f}, per honest frame served [ms] '
        f'{per_frame_ms["calm"]:.0f} / {per_frame_ms["flood"]:.0f}; load average '
        f'{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; edge budget '
        f'{f"{EDGE_CORES} core (cgroup quota)" if quota is not None else f"none ({no_quota})"}',
        f'edge peak RSS (VmHWM): {rss_calm:.0f} MB before the intruder, {rss_peak:.0f} MB after '
        f'(bound {RSS_BOUND_MB} MB)',
    ]
    return {'rate': rate, 'block_ratio': block_ratio, 'per_frame_ms': per_frame_ms, 'no_quota': no_quota, 'rss_peak': rss_peak, 'diag': diag, 'reasons': reasons,
            'hostile_served': len(probe.stats[HOSTILE]),
            'honest_rejected': {r: int(probe.robot_diag[r].get('frames_rejected', 0)) for r in HONEST},
            'honest_quarantines': {r: int(probe.robot_diag[r].get('quarantines', 0)) for r in HONEST},
            'prelude_rejected': prelude_rejected, 'report': report}


def test_flood_is_refused_counted_and_bounded_in_memory(flood, capsys):
    """The intruder's crafted frames are all refused, counted per reason, it is quarantined, and the
    edge's RSS stays bounded."""
    report, reasons, diag = flood['report'], flood['reasons'], flood['diag']
    with capsys.disabled():
        print('\n' + '\n'.join(report))
    assert flood['rss_peak'] < RSS_BOUND_MB, report
    # Every crafted kind was refused and counted against the intruder, under its reason (the
    # prelude shows the edge each kind), and so were frames of the flood itself.
    assert int(diag['frames_rejected']) == sum(reasons.values()), report
    for kind, kind_reasons in KIND_REASONS.items():
        assert sum(reasons.get(r, 0) for r in kind_reasons) > 0, (kind, report)
    assert int(diag['frames_rejected']) > flood['prelude_rejected'], report
    assert flood['hostile_served'] == 0, 'a crafted frame was served'
    assert not any(flood['honest_rejected'].values()), flood['honest_rejected']
    # The intruder was quarantined (its subscription dropped for a while), the honest robots never.
    assert int(diag.get('quarantines', 0)) >= 1, report
    assert not any(flood['honest_quarantines'].values()), flood['honest_quarantines']


def test_flood_costs_the_honest_robots_little(flood):
    """Isolation: the honest robots keep >= 90 % of their served rate under the flood (the issue),
    and the edge's CPU per honest frame served grows by at most 1.2x.

    The edge runs on a fixed budget (0.4 core quota, with the cpu.shares to get it) and is
    saturated, so its served rate is what a flood could take away. The rate of a window is
    taken from the intervals between its results (not a count of whole frames), compared per
    ABBA block (calm, flood, flood, calm: a drift in the machine's speed cancels within it),
    and the median over the 8 blocks is asserted: on this shared 2-core machine the served
    frames per window drifted between 12 and 22 at a constant 0.5 core (the neighbours slow the
    edge's CPU itself) and single blocks measured 91-119 %, while the medians stayed 98-103 %.
    Before: 8 x 2 s windows counted at 0.25 core moved +-10 % between runs, and each lapse of
    the flooder's quarantine (before the probation) cost a block ~20 %.
    """
    if flood['no_quota']:
        pytest.skip(f'needs a fixed CPU budget for the edge: {flood["no_quota"]}')
    per_frame, rate = flood['per_frame_ms'], flood['rate']
    for r in HONEST:
        assert rate['calm'][r] > 0 and rate['flood'][r] > 0, flood['report']
        assert statistics.median(flood['block_ratio'][r]) >= 0.9, flood['report']
    assert per_frame['flood'] <= 1.2 * per_frame['calm'], flood['report']


ROBOT = '/robot1'


def _results_by_stamp(path) -> dict:
    """stamp -> {topic: serialized bytes} from the latent-player's --results file."""
    out = collections.defaultdict(dict)
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written
            out[round(r['stamp'], 6)][r['topic']] = r['bytes']
    return out


def test_results_a_robot_receives_stay_compact(frames_file, tmp_path, capsys):
    """640x480 robot: per frame, the compact results it receives, and against the latent it sent.

    The contract is absolute: what crosses the robot's link back is bounded by the model's
    outputs, not by the camera's resolution (the label map travels as PNG at the model's
    resolution), about one beta-1 latent (~1.3 kB) per frame. Against the latent it depends
    on the rate point: below 1 at beta 0.25 (the default until issue 21, when this test
    asserted it), ~0.9x at beta 1 (the default again since issue 21's fourth pass), ~2.3x at beta 4 (~500 B
    latents):
    reported, not asserted.

    Both directions are counted the same way: the serialized CDR message (``raw=True``
    subscriptions: payload plus every field, header and the 4-byte encapsulation), i.e. what
    the RMW hands DDS, without RTPS/UDP/IP headers. The latent is heard by this probe; the
    results by the robot itself (all four compact topics of the same stamp summed).
    """
    results = tmp_path / 'results.jsonl'
    dom = ros_domain('fleet_isolation9')
    with NodeProcesses(dom, tmp_path / 'logs', {'OMP_NUM_THREADS': '1'}) as procs, \
            IsolationProbe(dom, (), latent_of=(ROBOT,)) as probe:
        _player(procs, ROBOT, frames_file, '--results', str(results))
        procs.start('edge_perception', label='edge', namespace='/base1', params=EDGE_PARAMS)

        def complete():
            return {s: t for s, t in _results_by_stamp(results).items()
                    if len(t) == len(COMPACT_TOPICS) and s in probe.latent_bytes}
        deadline = time.monotonic() + 180
        while len(complete()) < 20 and time.monotonic() < deadline:
            probe.spin_for(0.5)
        frames = complete()
        assert len(frames) >= 20, _logs(procs)

    latent = [probe.latent_bytes[s] for s in sorted(frames)]
    back = [sum(frames[s].values()) for s in sorted(frames)]
    ratio = sorted(b / a for a, b in zip(latent, back))
    per_topic = {t: statistics.median(frames[s][t] for s in frames) for t in COMPACT_TOPICS}

    def dist(xs):
        xs = sorted(xs)
        return f'min {xs[0]} / median {statistics.median(xs):.0f} / max {xs[-1]}'
    report = [
        f'{len(frames)} frames at 640x480, serialized bytes per frame:',
        f'  robot -> edge (LatentFrame): {dist(latent)}',
        f'  edge -> robot (4 compact topics): {dist(back)}; median per topic ' +
        ', '.join(f'{t} {v:.0f}' for t, v in per_topic.items()),
        f'  results / latent per frame: min {ratio[0]:.2f} / median {statistics.median(ratio):.2f} / '
        f'max {ratio[-1]:.2f}; frames with results > latent: {sum(r > 1 for r in ratio)} of {len(ratio)}',
    ]
    with capsys.disabled():
        print('\n' + '\n'.join(report))
    # Measured at 640x480 (seed-3 scenes): median 1,192-1,228 B, max 1,400-1,416 B (detections
    # ~570, PNG label map ~380, classification 164, frame_stats 116).
    assert statistics.median(back) <= 1300, report
    assert max(back) <= 1600, report  # every frame, not only the median


# --- a site: robots on a LAN, an IP router, the base station on another subnet -------------

SITE_ROBOTS = ('/robot1', '/robot2')
LAN, BASE_NET = '10.81.1', '10.81.2'    # only inside the namespaces this test makes
BASE_ADDR, DS_PORT = f'{BASE_NET}.2', 11811


class _Site:
    """Network namespaces of a site: one per robot on a LAN bridge, a router, one base station.

    The router forwards IP between the LAN and the base subnet and routes no multicast, as on
    a real site, so SIMPLE discovery (multicast) cannot cross it. Everything is named after
    this process's pid and removed by ``close()`` (namespaces take their veths with them).
    """

    def __init__(self, n_robots: int):
        t = f'ls{os.getpid() % 100000}'
        self.robots = [f'{t}r{i}' for i in range(n_robots)]
        self.router, self.base = f'{t}gw', f'{t}b'
        self.procs: list = []
        self.made: list[str] = []

    def _ip(self, *args):
        from ladon_bench.link.netns import _run
        _run(['ip', *args])

    def _ns(self, name):
        self._ip('netns', 'add', name)
        self.made.append(name)
        self._ip('-n', name, 'link', 'set', 'lo', 'up')

    def _leaf(self, ns, dev, addr, gateway):
        """A veth from ``ns`` to the router; returns the router's end."""
        self._ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', f'{dev}p', 'netns', self.router)
        self._ip('-n', ns, 'addr', 'add', f'{addr}/24', 'dev', dev)
        self._ip('-n', ns, 'link', 'set', dev, 'up')
        self._ip('-n', ns, 'route', 'add', 'default', 'via', gateway)
        self._ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev)  # multicast stays on this subnet
        return f'{dev}p'

    def create(self) -> '_Site':
        for ns in (self.router, self.base, *self.robots):
            self._ns(ns)
        gw = ['-n', self.router]
        self._ip(*gw, 'link', 'add', 'br0', 'type', 'bridge')
        self._ip(*gw, 'addr', 'add', f'{LAN}.1/24', 'dev', 'br0')
        self._ip(*gw, 'link', 'set', 'br0', 'up')
        for i, ns in enumerate(self.robots):
            port = self._leaf(ns, f'{ns}e', f'{LAN}.{10 + i}', f'{LAN}.1')
            self._ip(*gw, 'link', 'set', port, 'master', 'br0', 'up')
        port = self._leaf(self.base, f'{self.base}e', BASE_ADDR, f'{BASE_NET}.1')
        self._ip(*gw, 'addr', 'add', f'{BASE_NET}.1/24', 'dev', port)
        self._ip(*gw, 'link', 'set', port, 'up')
        from ladon_bench.link.netns import _run
        _run(['ip', 'netns', 'exec', self.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
        return self

    def spawn(self, ns, argv, env, log):
        import subprocess
        with open(log, 'ab') as out:
            p = subprocess.Popen(['ip', 'netns', 'exec', ns, *argv], env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def stop_all(self):
        from ladon_bench.link.netns import stop_processes
        stop_processes(self.procs, timeout_s=10.0)
        self.procs.clear()

    def close(self):
        from ladon_bench.link.netns import _kill_ns_pids, _run
        self.stop_all()
        for ns in reversed(self.made):
            _kill_ns_pids(ns)
            _run(['ip', 'netns', 'del', ns], check=False)
        self.made.clear()


def _served(path) -> list[dict]:
    return [r for r in _results_records(path) if r['topic'] == 'frame_stats']


def _results_records(path) -> list[dict]:
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # the line being written
    return out


def test_site_robots_behind_a_router_need_the_discovery_server(frames_file, tmp_path, capsys):
    """Negative control: SIMPLE discovery, base sees no robot. Discovery server at the base: all served."""
    import shutil

    from ladon_bench.link.fastdds import dds_env, write_udp_profile
    from ladon_bench.link.netns import unavailable_reason
    from ladon_ros.ros.processes import node_command
    why = unavailable_reason()
    if why:
        pytest.skip(why)
    if shutil.which('fastdds') is None:
        pytest.skip('fastdds (Fast DDS discovery server tool) not found')
    # UDP only: processes of one host could otherwise meet through shared memory, which no
    # two machines of a site share.
    env = dds_env(write_udp_profile(tmp_path / 'udp.xml'), ros_domain('fleet_isolation9'), base={**os.environ, 'OMP_NUM_THREADS': '1'})
    edge_cmd = node_command('edge_perception', namespace='/base1', params=EDGE_PARAMS)
    site = _Site(len(SITE_ROBOTS))
    report = []
    try:
        site.create()

        def start(tag, env_robot, env_edge):
            edge_log = tmp_path / f'{tag}_edge.log'
            site.spawn(site.base, edge_cmd, env_edge, edge_log)
            results = {}
            for ns, netns in zip(SITE_ROBOTS, site.robots):
                results[ns] = tmp_path / f'{tag}{ns.replace("/", "_")}.jsonl'
                site.spawn(netns, [sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', 'latent-player', '--frames',
                                   str(frames_file), '--rate-hz', '10', '--results', str(results[ns]),
                                   '--ros-args', '-r', f'__ns:={ns}'], env_robot, tmp_path / f'{tag}{ns[1:]}.log')
            return edge_log, results

        def wait(cond, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if cond():
                    return True
                time.sleep(0.5)
            return False

        def logs(tag):
            return '\n'.join(f'--- {p.name}\n{p.read_text(errors="replace")[-1500:]}'
                             for p in sorted(tmp_path.glob(f'{tag}*.log')))

        # 1. SIMPLE discovery (multicast): nothing crosses the router.
        edge_log, results = start('simple', env, env)
        assert wait(lambda: 'loaded' in edge_log.read_text(errors='replace'), 180), logs('simple')
        time.sleep(10.0)  # a LAN discovers within ~1 s (announcements every 0.5 s)
        edge_text = edge_log.read_text(errors='replace')
        served = {ns: len(_served(p)) for ns, p in results.items()}
        report.append(f'SIMPLE discovery: base saw {edge_text.count("serving [")} robot changes, robots served '
                      f'{served} frames in 10 s')
        assert 'serving [' not in edge_text, logs('simple')
        assert not any(served.values()), report
        site.stop_all()

        # 2. A discovery server in the base station's namespace; robots and the edge its clients.
        ds = {'ROS_DISCOVERY_SERVER': f'{BASE_ADDR}:{DS_PORT}'}
        site.spawn(site.base, ['fastdds', 'discovery', '-i', '0', '-l', BASE_ADDR, '-p', str(DS_PORT)], env,
                   tmp_path / 'ds_server.log')
        # The edge finds robots in the graph: a plain client learns only endpoints of its own topics.
        t0 = time.monotonic()
        edge_log, results = start('ds', {**env, **ds}, {**env, **ds, 'ROS_SUPER_CLIENT': 'TRUE'})
        assert wait(lambda: all(len(_served(p)) >= 5 for p in results.values()), 180), logs('ds')
        report.append(f'discovery server at {BASE_ADDR}:{DS_PORT}: every robot served 5 frames '
                      f'{time.monotonic() - t0:.0f} s after start (edge load included): ' +
                      ', '.join(f'{ns} by {_served(p)[0]["served_by"]}' for ns, p in results.items()))
        with capsys.disabled():
            print('\n' + '\n'.join(report))
    finally:
        site.close()
    from ladon_bench.link.netns import _run
    left = [ns for ns in (site.router, site.base, *site.robots)
            if ns in _run(['ip', 'netns', 'list'], check=False).stdout.split()]
    assert not left, f'namespaces left behind: {left}'
