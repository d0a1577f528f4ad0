"""The fleet benchmark: N robots share one shaped link to 1-2 edges (real DDS; no rclpy here).

Topology (per link topology: the clean veth, or the veth through the delay/loss relay)::

    robot netns (every robot)                          base netns
    latent-player /robot1 .. /robotN  ── one veth ──  edge_perception /base1 (taskset core 1)
    (frames encoded beforehand)        tbf both ways  [edge_perception /base2 (core 0)]

For each edge count the edges are started (pinned, one core each); for each frame rate,
codec and link rate, a robot-count search adds ``latent-player`` robots in ascending
order (1, 2, 4, ...), waits until every robot is served, records a window of ``seconds``
and stops the search once ``max_fails`` cells in a row missed the budget. A cell's numbers
come from what each robot received back (its results, their arrival times and the edge's
FrameStats), the veth and tbf counters of both directions, and the edges' and robots'
CPU time (``/proc/<pid>/stat``). Everything is removed however the run ends
(``NetnsLink.close``, ``CpuQuota.close``, atexit and signal handlers).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ladon_ros.bench.fleet.metrics import CellInput, FleetRow, cell_row, search_done
from ladon_ros.bench.link.cases import LOSSY, LOSSY_RATE_MBPS, CodecCase
from ladon_ros.bench.link.cgroup import CpuQuota
from ladon_ros.bench.link.fastdds import write_udp_profile
from ladon_ros.bench.link.harness import RecordReader, ros_env
from ladon_ros.bench.link.netns import NetnsLink, _link_stats, _run, stop_processes
from ladon_ros.config import param, positive
from ladon_ros.ros.processes import node_command

_CLK_TCK = os.sysconf('SC_CLK_TCK')


def _not_empty(values: tuple) -> None:
    if not values:
        raise ValueError('needs at least one')


def _ascending_positive(values: tuple) -> None:
    _not_empty(values)
    if any(v < 1 for v in values) or list(values) != sorted(set(values)):
        raise ValueError(f'must be distinct positive integers in ascending order, got {list(values)}')


@dataclass(frozen=True)
class FleetConfig:
    """What one ``bench-fleet`` run measures (validated by ``ladon_ros.config.from_mapping``)."""

    cases: tuple[CodecCase, ...] = param(description='Codec cases, in order', check=_not_empty)
    rates_mbps: tuple[float, ...] = param(description='Clean link rates [Mbit/s] (shaped both ways)')
    out_dir: Path = param(description='Logs, records and outputs')
    robots: tuple[int, ...] = param((1, 2, 4, 8, 16, 32), 'Robot counts, ascending (the search stops early)',
                                    check=_ascending_positive)
    fps: tuple[float, ...] = param((2.0, 10.0), 'Frame rates of every robot [Hz]', check=_not_empty)
    edges: tuple[int, ...] = param((1, 2), 'Edge counts (each edge one core)', check=_not_empty)
    lossy: bool = param(False, 'Also the lossy setting (5 Mbit/s, 20 ms, 2 % loss; relay namespace)')
    robot_cpu: float = param(0.0, 'CPU quota of each robot [cores] (cgroup v1); 0 = none', range=(0.0, 64.0))
    budget_ms: float = param(250.0, 'Latency budget capture -> results at the robot, p95 [ms]', check=positive)
    seconds: float = param(10.0, 'Recorded window per cell [s]', check=positive)
    settle_s: float = param(2.0, 'Wait after every robot is served, before the window [s]')
    join_timeout_s: float = param(30.0, 'Longest wait for newly added robots to be served [s]')
    start_timeout_s: float = param(300.0, 'Longest wait for the edges to serve a first frame [s]')
    max_fails: int = param(2, 'Stop a robot-count search after this many failed cells in a row', range=(1, 100))
    width: int = param(640, 'Camera image width [px] of the replayed frames')
    height: int = param(480, 'Camera image height [px]')
    queue_ms: float = param(400.0, 'tbf queue limit of each direction [ms]')
    domain_id: int = param(48, 'ROS_DOMAIN_ID of every process of the run', range=(0, 101))


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` [s] (0 once it is gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _qdisc(ns: str, dev: str) -> tuple[int, int]:
    out = _run(['tc', '-n', ns, '-s', '-j', 'qdisc', 'show', 'dev', dev], check=False)
    for q in json.loads(out.stdout or '[]'):
        if q.get('kind') == 'tbf':
            return int(q.get('drops', 0)), int(q.get('backlog', 0))
    return 0, 0


class FleetBench:
    """Runs a ``FleetConfig``; ``run()`` returns the rows (and writes records and logs under out_dir)."""

    def __init__(self, cfg: FleetConfig, log: Callable[[str], None] = lambda s: print(s, flush=True)):
        self.cfg, self.log = cfg, log
        self.out = Path(cfg.out_dir)
        self.logs = self.out / 'logs'
        self.records = self.out / 'records'
        for d in (self.logs, self.records):
            d.mkdir(parents=True, exist_ok=True)
        self.env = ros_env(cfg.domain_id, write_udp_profile(self.out / 'fastdds_udp_only.xml'))
        self.env['OMP_NUM_THREADS'] = '1'
        self.rows: list[FleetRow] = []
        self.frames: dict[str, tuple[Path, dict]] = {}
        self._spawned = 0
        self._quotas: list[CpuQuota] = []
        self._down_shaped = False

    # --- public -------------------------------------------------------------------
    def run(self, on_row: Callable[[FleetRow], None] | None = None) -> list[FleetRow]:
        """Measures every cell; ``on_row`` sees each row as soon as it is made."""
        self.on_row = on_row or (lambda r: None)
        try:
            for case in self.cfg.cases:
                self.frames[case.label] = self._encode(case)
            topologies = [('clean', None, self.cfg.rates_mbps)] if self.cfg.rates_mbps else []
            if self.cfg.lossy:
                topologies.append(('lossy', LOSSY, (LOSSY_RATE_MBPS,)))
            for tag, impairment, rates in topologies:
                with NetnsLink(impairment=impairment) as link:
                    self._down_shaped = False
                    self.log(f'[{tag}] robots in {link.camera_ns}, edges in {link.edge_ns}'
                             + (f' via relay {link.relay_ns} ({impairment})' if impairment else ''))
                    for n_edges in self.cfg.edges:
                        self._run_edges(link, tag, rates, n_edges)
        finally:
            for q in self._quotas:
                q.close()
        return self.rows

    # --- frames ---------------------------------------------------------------------
    def _encode(self, case: CodecCase) -> tuple[Path, dict]:
        """Frames of ``case`` encoded by the robot-side encoder, on the robot core (and quota)."""
        cfg = self.cfg
        name = case.label.replace('@', '_')
        path = self.out / 'frames' / f'{name}.json'
        path.parent.mkdir(parents=True, exist_ok=True)
        setting = str(case.setting)
        argv = [sys.executable, '-m', 'ladon_ros.bench.fleet.frames', '--setting', setting, '--out', str(path),
                '--width', str(cfg.width), '--height', str(cfg.height)]
        if shutil.which('taskset'):
            argv = ['taskset', '-c', '0', *argv]
        proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        quota = self._quota(proc.pid)
        out, err = proc.communicate(timeout=600)
        if quota is not None:
            quota.close()
        if proc.returncode != 0:
            raise RuntimeError(f'encoding frames for {case.label} failed: {err[-2000:]}')
        info = json.loads(out.strip().splitlines()[-1])
        self.log(f'  frames {case.label}: {info["bytes_mean"]:.0f} B, encode p50 {info["encode_ms_p50"]:.1f} ms'
                 f'{" (robot quota %g core)" % cfg.robot_cpu if cfg.robot_cpu else ""}')
        return path, info

    def _quota(self, pid: int) -> CpuQuota | None:
        if not self.cfg.robot_cpu:
            return None
        q = CpuQuota(self.cfg.robot_cpu, 'robot')
        q.add(pid)
        self._quotas.append(q)
        return q

    # --- link -----------------------------------------------------------------------
    def _shape(self, link: NetnsLink, rate: float) -> None:
        """Both directions: robot -> base on the robot veth, base -> robot on the base veth."""
        link.shape(rate, queue_ms=self.cfg.queue_ms)
        burst = max(4096, int(rate * 1e6 / 8 / 1000))
        verb = 'change' if self._down_shaped else 'add'
        _run(['tc', '-n', link.edge_ns, 'qdisc', verb, 'dev', link.edge_dev, 'root', 'tbf', 'rate',
              f'{int(rate * 1000)}kbit', 'burst', str(burst), 'latency', f'{int(self.cfg.queue_ms)}ms'])
        self._down_shaped = True

    @staticmethod
    def _counters(link: NetnsLink) -> dict:
        up_drops, _ = _qdisc(link.camera_ns, link.camera_dev)
        down_drops, _ = _qdisc(link.edge_ns, link.edge_dev)
        return {'up': int(_link_stats(link.camera_ns, link.camera_dev)['tx']['bytes']),
                'down': int(_link_stats(link.edge_ns, link.edge_dev)['tx']['bytes']),
                'up_drops': up_drops, 'down_drops': down_drops}

    # --- edges ----------------------------------------------------------------------
    def _run_edges(self, link: NetnsLink, tag: str, rates: tuple[float, ...], n_edges: int) -> None:
        cfg = self.cfg
        ncpu = os.cpu_count() or 1
        # One edge: core 1, the robots core 0. Two edges: cores 0 and 1 (the robots float:
        # on this 2-core machine there is no third core for them; their CPU is reported).
        cores = ['1'] if n_edges == 1 else [str(i % ncpu) for i in range(n_edges)]
        ladon = sorted({c.checkpoint for c in cfg.cases if c.codec == 'ladon'}) or ['']
        images = any(c.codec != 'ladon' for c in cfg.cases)
        edges = []
        for i in range(n_edges):
            argv = node_command('edge_perception', namespace=f'/base{i + 1}', params={
                'edge_id': f'base{i + 1}', 'checkpoints': ladon, 'serve_image_codecs': images,
                'publish_debug_image': False, 'robot_timeout_s': 2.0})
            if shutil.which('taskset') and ncpu > 1:
                argv = ['taskset', '-c', cores[i], *argv]
            edges.append(link.spawn('edge', argv, env=self.env, log=self.logs / f'edge{i + 1}_{tag}_{n_edges}e.log'))
        self.log(f'[{tag}] {n_edges} edge(s) on core(s) {",".join(cores)}')
        first = True
        try:
            for fps in cfg.fps:
                for case in cfg.cases:
                    pool = _Players(self, link, case, fps, pin='0' if n_edges == 1 and ncpu > 1 else None,
                                    tag=f'{tag}_{n_edges}e')
                    try:
                        for rate in rates:
                            self._shape(link, rate)
                            pool.trim(0)
                            setting = 'lossy' if tag == 'lossy' else 'clean'
                            self._search(link, pool, edges, case, setting, rate, fps, n_edges, first)
                            first = False
                    finally:
                        pool.trim(0)
        finally:
            stop_processes(edges)
            for e in edges:
                link.stop(e)

    # --- one robot-count search -----------------------------------------------------
    def _search(self, link, pool: '_Players', edges, case: CodecCase, setting: str, rate: float, fps: float,
                n_edges: int, first: bool) -> None:
        cfg = self.cfg
        group: list[FleetRow] = []
        for n in cfg.robots:
            t_add = time.time()
            pool.grow(n)
            timeout = cfg.start_timeout_s if first else cfg.join_timeout_s + 0.5 * n
            served = pool.wait_served(t_add if not first else 0.0, timeout, edges)
            first = False
            if served < n:
                self.log(f'  {case.label} {rate:g} Mbit/s {fps:g} Hz {n_edges}e: only {served}/{n} robots served '
                         f'within {timeout:.0f} s (logs in {self.logs})')
            time.sleep(cfg.settle_s)
            row = self._window(link, pool, edges, case, setting, rate, fps, n_edges, n)
            group.append(row)
            self.rows.append(row)
            self.on_row(row)
            self.log(f'  {case.label:>12} {setting} {rate:>4g} Mbit/s {fps:>4g} Hz {n_edges}e {n:>3} robots: '
                     f'fps min {row.fps_delivered_min:.1f} '
                     f'p50/p95 {row.latency_p50_ms:.0f}/{row.latency_p95_ms:.0f} ms '
                     f'up {row.link_util:.0%} edge {row.edge_util:.0%} -> {"ok" if row.within_budget else "over"}')
            if search_done(group, cfg.max_fails):
                break

    def _window(self, link, pool: '_Players', edges, case, setting, rate, fps, n_edges, n) -> FleetRow:
        cfg = self.cfg
        c0 = self._counters(link)
        e0 = [_proc_cpu_s(e.pid) for e in edges]
        p0 = pool.cpu_s()
        t0 = time.time()
        time.sleep(cfg.seconds)
        t1 = time.time()
        c1 = self._counters(link)
        e1 = [_proc_cpu_s(e.pid) for e in edges]
        p1 = pool.cpu_s()
        # Results of the window's last frames are still on their way: the tbf queue (<= queue_ms)
        # each way plus the budget.
        time.sleep(cfg.budget_ms / 1e3 + 2 * cfg.queue_ms / 1e3 + 0.5)
        t_check = time.time()
        c2 = self._counters(link)
        info = self.frames[case.label][1]
        cell = CellInput(codec=case.label, setting=setting, link_mbps=rate, robots=n, fps=fps, edges=n_edges,
                         t0=t0, t1=t1, t_check=t_check, budget_ms=cfg.budget_ms,
                         up_tx_bytes=c1['up'] - c0['up'], down_tx_bytes=c1['down'] - c0['down'],
                         up_tx_bytes_check=c2['up'] - c0['up'], down_tx_bytes_check=c2['down'] - c0['down'],
                         edge_cpu_s=tuple(b - a for a, b in zip(e0, e1)), player_cpu_s=p1 - p0,
                         encode_ms_p50=info['encode_ms_p50'], frame_bytes=info['bytes_mean'],
                         qdisc_drops_up=c1['up_drops'] - c0['up_drops'],
                         qdisc_drops_down=c1['down_drops'] - c0['down_drops'], loadavg_1min=os.getloadavg()[0])
        row = cell_row(cell, pool.records())
        row.extra['robot_cpu_quota'] = cfg.robot_cpu or None
        row.extra['rate_point'] = case.rate_point
        return row


class _Players:
    """The robots of one (codec, fps): ``latent-player`` processes added and removed in order."""

    def __init__(self, bench: FleetBench, link: NetnsLink, case: CodecCase, fps: float, pin: str | None, tag: str):
        self.b, self.link, self.case, self.fps, self.pin, self.tag = bench, link, case, fps, pin, tag
        self.procs: list[tuple[subprocess.Popen, RecordReader, CpuQuota | None]] = []

    def grow(self, n: int) -> None:
        """Starts robots until ``n`` run (robot k in namespace /robot<k>)."""
        while len(self.procs) < n:
            self.procs.append(self._start(len(self.procs) + 1))

    def _start(self, k: int) -> tuple[subprocess.Popen, RecordReader, CpuQuota | None]:
        self.b._spawned += 1
        name = f'{self.tag}_{self.case.label.replace("@", "_")}_{self.fps:g}hz_robot{k}_{self.b._spawned}'
        rec = self.b.records / f'{name}.jsonl'
        rec.unlink(missing_ok=True)
        argv = [sys.executable, '-m', 'ladon_ros.ros.bench_nodes', 'latent-player', '--frames',
                str(self.b.frames[self.case.label][0]), '--rate-hz', f'{self.fps:g}', '--results', str(rec),
                '--ros-args', '-r', f'__ns:=/robot{k}']
        if self.pin is not None and shutil.which('taskset'):
            argv = ['taskset', '-c', self.pin, *argv]
        proc = self.link.spawn('camera', argv, env=self.b.env, log=self.b.logs / f'{name}.log')
        quota = None
        if self.b.cfg.robot_cpu:
            quota = CpuQuota(self.b.cfg.robot_cpu, f'robot{k}')
            quota.add(proc.pid)
        return proc, RecordReader(rec), quota

    def restart_dead(self) -> None:
        """Restarts robots whose process exited (e.g. a library briefly missing at start)."""
        for i, (p, _, q) in enumerate(self.procs):
            if p.poll() is not None:
                self.b.log(f'  robot{i + 1} exited with {p.returncode} (see its log); restarted')
                self.link.stop(p)
                if q is not None:
                    q.close()
                self.procs[i] = self._start(i + 1)

    def trim(self, n: int) -> None:
        """Stops robots beyond the first ``n`` (all of them at once)."""
        gone = self.procs[n:]
        self.procs = self.procs[:n]
        stop_processes([p for p, _, _ in gone])
        for p, _, q in gone:
            self.link.stop(p)
            if q is not None:
                q.close()

    def wait_served(self, since: float, timeout: float, edges) -> int:
        """Waits until every robot received a result captured after ``since``; returns how many did."""
        deadline = time.monotonic() + timeout
        while True:
            for _, r, _ in self.procs:
                r.poll()
            n = sum(1 for _, r, _ in self.procs if r.rows and r.rows[-1]['stamp'] >= since)
            if n == len(self.procs) or time.monotonic() > deadline:
                return n
            dead = [e for e in edges if e.poll() is not None]
            if dead:
                raise RuntimeError(f'an edge exited (code {dead[0].returncode}); see {self.b.logs}')
            self.restart_dead()
            time.sleep(0.2)

    def records(self) -> list[list[dict]]:
        """Every record of every running robot so far."""
        for _, r, _ in self.procs:
            r.poll()
        return [r.rows for _, r, _ in self.procs]

    def cpu_s(self) -> float:
        """CPU seconds of the running robots so far."""
        return sum(_proc_cpu_s(p.pid) for p, _, _ in self.procs)

