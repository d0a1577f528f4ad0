"""The link benchmark: real nodes, real DDS, a shaped veth between them (no rclpy here).

For each link topology (clean veth; veth through the delay/loss relay) the harness
creates the namespaces, starts ``edge_perception`` and a recorder in the edge namespace,
then for each codec case starts the robot's camera in the camera namespace
(``image_source`` + ``camera_encoder`` as two processes, or both in one ``robot_camera``
process: ``camera_processes``) and, for each link rate, re-shapes the tbf, lets the queue
settle and records a window of ``frames`` camera frames. Rows come from the edge's FrameStats (what was
served, how late), the veth counters (what crossed the link) and the tbf counters
(queue, drops). Every process and namespace is removed when the run ends, however it
ends (``NetnsLink.close`` in ``finally``, atexit, signal handlers).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ladon_bench.link.cases import LOSSY, LOSSY_RATE_MBPS, CodecCase, LinkSetting
from ladon_bench.link.fastdds import dds_env, write_udp_profile
from ladon_bench.link.floor import BenchRow, link_floor_ms, percentile, slope_per_s, wire_bytes
from ladon_bench.link.netns import Counters, NetnsLink
from ladon_ros.config import param, positive
from ladon_ros.ros.processes import node_command

ROBOT_NS = '/robot1'
# Two machines on one: the robot side (source, encoder, local baseline) gets core 0, the
# edge core 1, each torch process one intra-op thread. Without this, torch's default
# threads oversubscribe the two cores and encode times swing by 10x under load.
CORES = {'camera': '0', 'edge': '1'}
# The synthetic camera cycles this many scenes rendered once (as the on-robot baseline does):
# rendering a 640x480 scene costs ~30 ms of CPU, load the benchmark itself would add.
CAMERA_SCENES = 8
# How the robot's camera runs: 'separate' (image_source and camera_encoder processes, the
# image over DDS) or 'composed' (robot_camera: one process, the image handed over in-process).
CAMERA_PROCESSES = ('separate', 'composed')


def check_camera_processes(values: tuple) -> None:
    """Raises ``ValueError`` unless ``values`` are distinct layouts of ``CAMERA_PROCESSES``."""
    bad = [v for v in values if v not in CAMERA_PROCESSES]
    if bad or not values or len(set(values)) != len(values):
        raise ValueError(f'expected distinct values of {CAMERA_PROCESSES}, got {list(values)}')


def _not_empty(values: tuple) -> None:
    if not values:
        raise ValueError('needs at least one')


@dataclass(frozen=True)
class BenchConfig:
    """What one ``bench-link`` run measures (validated by ``ladon_ros.config.from_mapping``)."""

    cases: tuple[CodecCase, ...] = param(description='Codec cases, in order', check=_not_empty)
    rates_mbps: tuple[float, ...] = param(description='Clean link rates [Mbit/s], fastest first',
                                          check=_not_empty)
    out_dir: Path = param(description='Logs, records and outputs')
    lossy: bool = param(True, 'Also run every offloading case on the lossy setting')
    frames: int = param(100, 'Camera frames offered per (case, setting) cell', range=(1, 2**31 - 1))
    fps: float = param(10.0, 'Camera frame rate [Hz]', range=(0.0, 120.0), check=positive)
    width: int = param(640, 'Camera image width [px] (resized to the model input on the robot)')
    height: int = param(480, 'Camera image height [px]')
    queue_ms: float = param(400.0, 'tbf queue limit: the longest a packet may wait in the radio buffer [ms]')
    settle_s: float = param(2.0, 'Wait after re-shaping before a window starts (old queue drains) [s]')
    start_timeout_s: float = param(120.0, 'Longest wait for the first served frame of a case [s]')
    domain_id: int = param(47, 'ROS_DOMAIN_ID of every process of the run', range=(0, 101))
    publish_debug_image: bool = param(False, 'Let the edge draw and publish its debug image too')
    robot_cpu: float = param(0.0, 'CPU quota of the robot side (encoder, local baseline) [cores], cgroup v1; '
                             '0 = none', range=(0.0, 64.0))
    camera_processes: tuple[str, ...] = param(('separate',), "The robot camera's layouts to measure, each case "
                                              "in each: 'separate' (image_source + camera_encoder) and/or "
                                              "'composed' (robot_camera; rows named '<codec>+composed')",
                                              check=check_camera_processes)


@dataclass
class Window:
    """One recorded (case, setting) cell: its time span and link counters."""

    case: CodecCase
    setting: LinkSetting
    t0: float
    t1: float
    c0: Counters
    c1: Counters
    backlog_max: int = 0
    extra: dict = field(default_factory=dict)


def ros_env(domain_id: int, profile: Path) -> dict[str, str]:
    """This process's environment (the workspace's, ``ladon_ros.workspace``) + UDP-only DDS."""
    return dds_env(profile, domain_id, dict(os.environ))


class RecordReader:
    """Reads the recorder's JSON lines incrementally."""

    def __init__(self, path: Path):
        self.path, self.pos, self.rows = path, 0, []

    def poll(self) -> list[dict]:
        """New complete records since the last call."""
        if not self.path.exists():
            return []
        with open(self.path) as f:
            f.seek(self.pos)
            data = f.read()
        end = data.rfind('\n') + 1
        self.pos += len(data[:end].encode())
        new = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        self.rows += new
        return new


def _matches(rec: dict, case: CodecCase) -> bool:
    if rec.get('kind') != 'stats' or rec['codec'] != case.codec:
        return False
    return abs(rec['rate_point'] - case.rate_point) <= 1e-3 * max(1.0, abs(case.rate_point))


class LinkBench:
    """Runs a ``BenchConfig``; ``run()`` returns the rows (and writes logs under out_dir)."""

    def __init__(self, cfg: BenchConfig, log: Callable[[str], None] = print):
        self.cfg, self.log = cfg, log
        self.out = Path(cfg.out_dir)
        self.logs = self.out / 'logs'
        self.logs.mkdir(parents=True, exist_ok=True)
        self.profile = write_udp_profile(self.out / 'fastdds_udp_only.xml')
        self.env = ros_env(cfg.domain_id, self.profile)
        self.env['OMP_NUM_THREADS'] = '1'
        self.windows: list[Window] = []
        self.records: list[dict] = []
        self.local: dict | None = None
        self._quota = None  # the weak robot CPU (one cgroup for every robot-side process)

    # --- public -------------------------------------------------------------------
    def run(self) -> list[BenchRow]:
        """Measures every case on every setting; returns the rows (local first if asked)."""
        cfg = self.cfg
        offload = [c for c in cfg.cases if c.codec != 'local']
        if cfg.robot_cpu:
            from ladon_bench.link.cgroup import CpuQuota
            self._quota = CpuQuota(cfg.robot_cpu, 'robot')
            self.log(f'robot side (encoder, local baseline) in a CPU quota of {cfg.robot_cpu:g} core')
        try:
            if any(c.codec == 'local' for c in cfg.cases):
                self.local = self._run_local()
            if offload:
                clean = [LinkSetting('clean', r) for r in cfg.rates_mbps]
                self._run_topology(offload, clean, None, 'clean')
                if cfg.lossy:
                    self._run_topology(offload, [LinkSetting('lossy', LOSSY_RATE_MBPS, LOSSY)], LOSSY, 'lossy')
        finally:
            if self._quota is not None:
                self._quota.close()
        return self.rows()

    def _spawn(self, link: NetnsLink, side: str, argv: list[str], log: str, pin: bool = True):
        if pin and shutil.which('taskset') and (os.cpu_count() or 1) > int(CORES[side]):
            argv = ['taskset', '-c', CORES[side], *argv]
        proc = link.spawn(side, argv, env=self.env, log=self.logs / log)
        if pin and side == 'camera' and self._quota is not None:
            self._quota.add(proc.pid)  # robot compute (not the camera itself) runs on the weak CPU
        return proc

    # --- topologies -----------------------------------------------------------------
    def _run_topology(self, cases, settings, impairment, tag: str) -> None:
        cfg = self.cfg
        rec_path = self.out / f'records_{tag}.jsonl'
        rec_path.unlink(missing_ok=True)
        reader = RecordReader(rec_path)
        ladon_ckpts = sorted({c.checkpoint for c in cases if c.codec == 'ladon'}) or ['']
        with NetnsLink(impairment=impairment) as link:
            link.shape(settings[0].link_mbps, queue_ms=cfg.queue_ms)
            self.log(f'[{tag}] namespaces {link.camera_ns} <-> {link.edge_ns}'
                     + (f' via relay {link.relay_ns} ({impairment})' if impairment else ''))
            self._spawn(link, 'edge', node_command('edge_perception', params={
                'robot_namespaces': [ROBOT_NS], 'checkpoints': ladon_ckpts, 'serve_image_codecs': True,
                'publish_debug_image': cfg.publish_debug_image}), f'edge_{tag}.log')
            self._spawn(link, 'edge', [sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', 'record', '--out',
                                       str(rec_path), '--robot-ns', ROBOT_NS], f'recorder_{tag}.log')
            for layout in cfg.camera_processes:
                for case in cases:
                    self._run_case(link, case, settings, reader, tag, layout)
            reader.poll()
        self.records += [dict(r, topology=tag) for r in reader.rows]

    def _run_case(self, link: NetnsLink, case: CodecCase, settings, reader: RecordReader, tag: str,
                  layout: str = 'separate') -> None:
        cfg = self.cfg
        if layout == 'composed':
            case = CodecCase(f'{case.label}+composed', case.setting, case.rate_point)
        name = f'{tag}_{case.label.replace("@", "_").replace("+", "_")}'
        link.shape(settings[0].link_mbps, queue_ms=cfg.queue_ms)
        camera = {'rate_hz': float(cfg.fps), 'width': cfg.width, 'height': cfg.height,
                  'synthetic_frames': CAMERA_SCENES}
        started = time.time()
        if layout == 'composed':  # camera and encoder in one process: all of it robot compute
            procs = [self._spawn(link, 'camera', node_command('robot_camera', namespace=ROBOT_NS, params={
                **camera, **case.encoder_params()}), f'robot_camera_{name}.log')]
        else:
            procs = [
                self._spawn(link, 'camera', node_command('image_source', namespace=ROBOT_NS, params=camera),
                            f'source_{name}.log', pin=False),  # the camera itself: not robot compute
                self._spawn(link, 'camera', node_command('camera_encoder', namespace=ROBOT_NS,
                                                         params=case.encoder_params()), f'encoder_{name}.log'),
            ]
        try:
            if not self._wait_first(case, reader, procs, since=started):
                dead = [p.args[p.args.index('-m') + 1] for p in procs if p.poll() is not None]
                why = f'exited early: {dead}' if dead else f'no frame served within {cfg.start_timeout_s:.0f} s'
                self.log(f'  {case.label}: {why} (logs in {self.logs}); its cells are recorded empty')
            for s in settings:
                link.shape(s.link_mbps, queue_ms=cfg.queue_ms)
                time.sleep(cfg.settle_s)
                w = self._record_window(link, case, s)
                reader.poll()
                n = sum(1 for r in reader.rows if _matches(r, case) and w.t0 <= r['stamp'] <= w.t1)
                self.log(f'  {case.label:>12} {s.name:>5} {s.link_mbps:>5g} Mbit/s: {n}/{cfg.frames} frames served'
                         ' (so far)')
            time.sleep(cfg.settle_s)  # frames of the last window still in flight
        finally:
            for p in procs:
                link.stop(p)

    def _wait_first(self, case: CodecCase, reader: RecordReader, procs, since: float = 0.0) -> bool:
        # ``since``: the case's start (wall clock); an earlier case of the same codec (the
        # other camera layout) left records that must not count as this one's first frame.
        deadline = time.monotonic() + self.cfg.start_timeout_s
        while time.monotonic() < deadline:
            if any(_matches(r, case) and r['stamp'] >= since for r in reader.poll()):
                return True
            if any(p.poll() is not None for p in procs):
                return False
            time.sleep(0.2)
        return False

    def _record_window(self, link: NetnsLink, case: CodecCase, s: LinkSetting) -> Window:
        span = self.cfg.frames / self.cfg.fps
        c0 = link.counters()
        t0 = time.time()
        backlog = 0
        while time.time() - t0 < span:
            time.sleep(0.2)
            backlog = max(backlog, link.counters().qdisc_backlog_bytes)
        t1 = time.time()
        # Other work on the machine shares the two cores: keep its load beside the numbers.
        w = Window(case, s, t0, t1, c0, link.counters(), backlog, {'loadavg_1min': os.getloadavg()[0]})
        self.windows.append(w)
        return w

    # --- on-robot baseline ----------------------------------------------------------
    def _run_local(self) -> dict:
        cfg = self.cfg
        out = self.out / 'local_baseline.json'
        argv = [sys.executable, '-m', 'ladon_bench.link.local_baseline', '--frames', str(cfg.frames),
                '--fps', str(cfg.fps), '--width', str(cfg.width), '--height', str(cfg.height), '--out', str(out)]
        if shutil.which('taskset'):
            argv = ['taskset', '-c', CORES['camera'], *argv]  # one robot core
        self.log('[local] full teacher model on one core, no link')
        with open(self.logs / 'local_baseline.log', 'wb') as log:
            proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            if self._quota is not None:
                self._quota.add(proc.pid)  # the same weak robot CPU as the encoder
            try:
                code = proc.wait(timeout=600 + cfg.frames / cfg.fps * (1 + 1 / (cfg.robot_cpu or 1)))
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if code != 0:
            raise subprocess.CalledProcessError(code, argv)
        return json.loads(out.read_text())

    # --- rows -----------------------------------------------------------------------
    def rows(self) -> list[BenchRow]:
        """Rows of everything measured so far."""
        rows = []
        if self.local is not None:
            rows.append(local_row(self.local))
        per_case: dict[str, list[dict]] = {}
        for w in self.windows:
            per_case.setdefault(w.case.label, []).extend(self._served(w))
        for w in self.windows:
            rows.append(window_row(w, self._served(w), per_case[w.case.label], self.cfg.fps, self.cfg.frames))
        for r in rows:
            r.extra['robot_cpu_quota'] = self.cfg.robot_cpu or None
        return rows

    def _served(self, w: Window) -> list[dict]:
        topo = 'lossy' if w.setting.impairment else 'clean'
        # By capture stamp, not by arrival: a loaded edge (or recorder) may report a
        # frame after the window it was captured in has ended.
        return [r for r in self.records if r.get('topology') == topo and _matches(r, w.case)
                and w.t0 <= r['stamp'] <= w.t1]


def _p50(recs: list[dict], key: str) -> float:
    return percentile([r[key] for r in recs], 50)


def window_row(w: Window, served: list[dict], all_served: list[dict], fps: float, frames: int) -> BenchRow:
    """The row of one window; compute and frame size for the floor come from every window
    of the same case (so a cell where nothing arrived still has a floor)."""
    span = w.t1 - w.t0
    n = len(served)
    payload = sum(r['bytes'] for r in served) / n if n else (
        sum(r['bytes'] for r in all_served) / len(all_served) if all_served else float('nan'))
    camera_ms = _p50(all_served, 'encode_ms')
    edge_ms = percentile([r['decode_ms'] + r['heads_ms'] for r in all_served], 50)
    delay = w.setting.impairment.delay_ms if w.setting.impairment else 0.0
    floor = link_floor_ms(camera_ms=camera_ms, payload_bytes=payload, link_mbps=w.setting.link_mbps,
                          edge_ms=edge_ms, delay_ms=delay)
    seqs = [r['seq'] for r in served]
    published = (max(seqs) - min(seqs) + 1) if n >= 2 else n
    tx = w.c1.tx_bytes - w.c0.tx_bytes
    model_bytes = sum(wire_bytes(r['bytes']) for r in served)
    lat = [r['total_ms'] for r in served]
    p50 = percentile(lat, 50)
    extra = {
        'encode_ms_p50': _p50(served, 'encode_ms'),
        'serialise_transmit_ms_p50': percentile([r['transit_ms'] - r['encode_ms'] for r in served], 50),
        'decode_ms_p50': _p50(served, 'decode_ms'),
        'heads_ms_p50': _p50(served, 'heads_ms'),
        'edge_wait_ms_p50': percentile([r['total_ms'] - r['transit_ms'] - r['decode_ms'] - r['heads_ms']
                                        for r in served], 50),
        'measured_over_floor': p50 / floor if n else float('nan'),
        'frames_served': n,
        'fps_published': published / span if span > 0 else 0.0,
        'latency_slope_ms_per_s': slope_per_s([r['stamp'] for r in served], lat),
        'veth_tx_bytes': tx,
        'veth_tx_bytes_per_published_frame': tx / published if published else float('nan'),
        'veth_covers_served_bytes': bool(tx >= 0.95 * model_bytes),
        'qdisc_drops': w.c1.qdisc_drops - w.c0.qdisc_drops,
        'qdisc_backlog_max_bytes': w.backlog_max,
        # What the encoder pushed into the link, served or not: the publisher never stalls.
        'fps_sent_from_veth': tx / wire_bytes(payload) / span if span > 0 and payload == payload else float('nan'),
        'rate_point': w.case.rate_point,
        **w.extra,
    }
    if w.setting.impairment:
        extra.update(relay_delay_ms=w.setting.impairment.delay_ms, relay_loss=w.setting.impairment.loss)
    offered = span * fps if span > 0 else float(frames)  # frames the camera captured in the window
    return BenchRow(w.case.label, w.setting.name, w.setting.link_mbps, payload, fps, n / span if span > 0 else 0.0,
                    max(0.0, 1.0 - n / offered), p50, percentile(lat, 95), floor, extra)


def local_row(result: dict) -> BenchRow:
    """The on-robot baseline's row (no link: the floor is its compute alone)."""
    recs = result['records']
    lat = [r['latency_ms'] for r in recs]
    compute = percentile([r['compute_ms'] for r in recs], 50)
    n, span = len(recs), result['duration_s']
    return BenchRow('local', 'on-robot', None, 0.0, result['fps'], n / span, max(0.0, 1.0 - n / result['frames']),
                    percentile(lat, 50), percentile(lat, 95), compute,
                    {'compute_ms_p50': compute, 'model_id': result['model_id'],
                     'random_weights': result['random_weights'], 'frames_served': n,
                     'measured_over_floor': percentile(lat, 50) / compute if n else float('nan')})


def publisher_probe(out_dir: Path, *, link_mbps: float = 1.0, nbytes: int = 50_000, fps: float = 10.0,
                    count: int = 100, domain_id: int = 44, queue_ms: float = 400.0) -> dict:
    """Keep-latest check: a publisher offering far more than the link carries must not stall.

    A probe talker publishes ``count`` incompressible frames of ``nbytes`` at ``fps`` into a
    ``link_mbps`` link (keep-latest QoS, as ``latent``); returns how long ``publish()`` took,
    how long the talker needed for all frames, what crossed the veth, the tbf drops and
    the largest tbf backlog (the queue bound).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = ros_env(domain_id, write_udp_profile(out_dir / 'fastdds_udp_only.xml'))
    received, log = out_dir / 'probe_received.jsonl', out_dir / 'logs' / 'probe_talker.log'
    log.parent.mkdir(parents=True, exist_ok=True)
    for p in (received, log):
        p.unlink(missing_ok=True)
    with NetnsLink() as link:
        link.shape(link_mbps, queue_ms=queue_ms)
        link.spawn('edge', [sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', 'probe-listener', '--out',
                            str(received)], env=env)
        time.sleep(3.0)  # discovery
        c0 = link.counters()
        t0 = time.monotonic()
        link.spawn('camera', [sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', 'probe-talker', '--bytes',
                              str(nbytes), '--rate-hz', str(fps), '--count', str(count)], env=env, log=log)
        backlog, result = 0, None
        while time.monotonic() - t0 < count / fps * 4 + 30 and result is None:
            time.sleep(0.2)
            backlog = max(backlog, link.counters().qdisc_backlog_bytes)
            for line in log.read_text().splitlines() if log.exists() else []:
                if line.startswith('{'):
                    result = json.loads(line)
        elapsed = time.monotonic() - t0
        time.sleep(1.0)
        c1 = link.counters()
    n = sum(1 for _ in open(received)) if received.exists() else 0
    return {'link_mbps': link_mbps, 'bytes': nbytes, 'fps': fps, 'frames': count,
            'talker_done_s': elapsed, **(result or {'published': 0}), 'frames_received': n,
            'veth_tx_bytes': c1.tx_bytes - c0.tx_bytes, 'offered_bytes': nbytes * count,
            'qdisc_drops': c1.qdisc_drops - c0.qdisc_drops, 'qdisc_backlog_max_bytes': backlog,
            'queue_bound_bytes': int(link_mbps * 1e6 / 8 * queue_ms / 1e3) + 4096}
