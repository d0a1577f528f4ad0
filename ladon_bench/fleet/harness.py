"""The fleet benchmark: N robots share one shaped link to 1-2 edges (real DDS; no rclpy here).

Topology (per link topology: the clean veth, or the veth through the delay/loss relay)::

    robot netns (every robot)                          base netns
    latent-player /robot1 .. /robotN  ── one veth ──  edge_perception /base1 (taskset core 1)
    (frames encoded beforehand)        tbf both ways  [edge_perception /base2 (core 0)]
                                                      diagnostics recorder (edges' counters)

The run follows a plan of robot-count searches (``plan``: the standard set or the grid of
explicit flags). Per topology and edge count the edges are started once (pinned, one core
each); per (fps, codec) one pool of ``latent-player`` robots serves its searches at every link
rate. A search steps the robot count (``plan.next_count``: ladder up from a predicted start,
down on failure, then bisection), waits until every robot is served, records a window of
``seconds`` and stops once the answer is resolved; searches that cannot matter are skipped
with the reason (``plan.static_skip``, ``plan.second_edge_skip``). A cell's numbers come from
what each robot received back (its results, their arrival times and the edge's FrameStats),
the veth and tbf counters of both directions, the edges' own counters on ``/diagnostics``
(realised batch size), and the edges' and robots' CPU time (``/proc/<pid>/stat``).
Everything is removed however the run ends (``NetnsLink.close``, ``CpuQuota.close``,
atexit and signal handlers).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ladon_bench.fleet import plan as planning
from ladon_bench.fleet.metrics import CellInput, FleetRow, cell_row, census_per_robot_bps, join_seconds, \
    protocol_overhead_bps
from ladon_bench.link.floor import percentile
from ladon_bench.link.cases import LOSSY, LOSSY_RATE_MBPS, CodecCase
from ladon_bench.link.cgroup import CpuQuota
from ladon_bench.link.fastdds import write_udp_profile
from ladon_bench.link.harness import RecordReader, ros_env
from ladon_bench.link.netns import EDGE_ADDR, NetnsLink, _link_stats, _run, stop_processes
from ladon_ros.config import param, positive
from ladon_ros.config_files import thin_profile
from ladon_ros.fleet.discovery import SERVERS_VAR, SUPER_CLIENT_VAR, server_command
from ladon_ros.ros.processes import node_command

_CLK_TCK = os.sysconf('SC_CLK_TCK')
# Duration model of the estimate printed before a run [s]: robots joining and being served
# per cell, a search's own set-up, and starting the edges (imports, model load, first frame).
CELL_JOIN_S = 4.5  # calibrated: the standard set of 2026-12-03 took 35.2 min for 140 cells
SEARCH_S = 4.0
EDGES_START_S = 30.0
# Edges forget a robot that sent nothing for this long [s].
EDGE_ROBOT_TIMEOUT_S = 2.0
# After a join (or a leave) on the fast join link, the cell's rate is set back only once the
# discovery burst has drained: every robot being served does not mean the edges' graph
# updates (ros_discovery_info, reliable, to every robot) and the servers' relays are done; at
# 1 Mbit/s with 32 robots and 2 edges what was left of them kept the link 91 % busy through the
# window. Drained = both directions under this share of the cell's rate over one second.
JOIN_DRAIN_SHARE = 0.8
JOIN_DRAIN_MAX_S = 30.0
# The thin profile's two redundant discovery servers, in the base namespace (UDP ports).
DISCOVERY_PORTS = (11811, 11812)


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
    seconds: float = param(6.0, 'Recorded window per cell [s]', check=positive)
    join_mbps: float = param(20.0, 'Link rate while new robots join (discovery), when above the cell rate '
                                   '[Mbit/s]; 0 = join at the cell rate', range=(0.0, 10_000.0))
    settle_s: float = param(1.5, 'Wait after every robot is served, before the window [s]')
    join_timeout_s: float = param(30.0, 'Longest wait for newly added robots to be served [s]')
    start_timeout_s: float = param(300.0, 'Longest wait for the edges to serve a first frame [s]')
    searches: tuple = param((), 'Robot-count searches (plan.Search) to run, in order; () = the grid of '
                                'cases x rates x fps x edges (+ lossy)')
    max_bisect: int = param(2, 'Most bisection cells of a search (after the ladder)', range=(0, 99))
    resolution: float = param(0.2, 'A search stops bisecting once (fail - pass) <= max(1, this x pass)',
                              range=(0.0, 1.0))
    width: int = param(640, 'Camera image width [px] of the replayed frames')
    height: int = param(480, 'Camera image height [px]')
    queue_ms: float = param(400.0, 'tbf queue limit of each direction [ms]')
    domain_id: int = param(48, 'ROS_DOMAIN_ID of every process of the run', range=(0, 101))
    announce_s: float = param(0.0, 'DDS participant announcement period [s] of every process; 0 = the fleet '
                                   "profile's (0.5 s)", range=(0.0, 60.0))
    takeover_subscriptions: str = param('', "The edges' takeover_subscriptions (backup/all/none); '' = the node's "
                                            "default (backup: with 2 edges each robot's frames cross the link twice)")
    edge_params: tuple = param((), "(name, value) pairs of edge_perception parameters every edge gets "
                                   "(bench-fleet --edge-param), recorded in each row")
    nice: int = param(0, 'nice value of the edges and robots (negative, as root: other jobs on a shared '
                         'machine take less of their cores)', range=(-20, 19))


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
        self.env = ros_env(cfg.domain_id, write_udp_profile(self.out / 'fastdds_udp_only.xml', cfg.announce_s))
        self.env['OMP_NUM_THREADS'] = '1'
        for var in (SERVERS_VAR, SUPER_CLIENT_VAR):  # the fleet profile's cells use SIMPLE discovery
            self.env.pop(var, None)
        self.envs = {'robot': self.env, 'edge': self.env, 'diag': self.env}  # per DDS profile: _profile_envs
        self.results_qos = 'reliable'  # the robots' results subscriptions, per DDS profile
        self.results_topic = 'split'  # the four result topics, or perception/results (thin)
        self.rows: list[FleetRow] = []
        self.frames: dict[str, tuple[Path, dict]] = {}
        self._spawned = 0
        self._quotas: list[CpuQuota] = []
        self._down_shaped = False

    # --- public -------------------------------------------------------------------
    def plan(self) -> list[planning.Search]:
        """The searches of this run: ``cfg.searches``, else the grid of the config's lists."""
        cfg = self.cfg
        if cfg.searches:
            return list(cfg.searches)
        return planning.grid_plan([c.label for c in cfg.cases], cfg.rates_mbps, cfg.fps, cfg.edges,
                                  LOSSY_RATE_MBPS if cfg.lossy else None)

    def run(self, on_row: Callable[[FleetRow], None] | None = None) -> list[FleetRow]:
        """Measures every search of the plan; ``on_row`` sees each row as soon as it is made."""
        self.on_row = on_row or (lambda r: None)
        self.skipped: list[dict] = getattr(self, 'skipped', [])
        searches = self.plan()
        cases = {c.label: c for c in self.cfg.cases}
        try:
            for label in dict.fromkeys(s.codec for s in searches):
                self.frames[label] = self._encode(cases[label])
            self.log(self.estimate_text(searches))
            for tag in dict.fromkeys(s.setting for s in searches):
                mine = [s for s in searches if s.setting == tag]
                impairment = LOSSY if planning.split_setting(tag)[0] == 'lossy' else None
                with NetnsLink(impairment=impairment) as link:
                    self._down_shaped = False
                    self.log(f'[{tag}] robots in {link.camera_ns}, edges in {link.edge_ns}'
                             + (f' via relay {link.relay_ns} ({impairment})' if impairment else ''))
                    for n_edges in dict.fromkeys(s.edges for s in mine):
                        self._run_edges(link, tag, [s for s in mine if s.edges == n_edges], n_edges, cases)
        finally:
            for q in self._quotas:
                q.close()
        return self.rows

    # --- estimates ------------------------------------------------------------------
    def _overhead_bps(self, setting: str | None = None) -> tuple[float, float]:
        """Per-robot protocol overhead each way: median of this run's cells with >= 2 robots (of
        ``setting``'s DDS profile when given), else the prior."""
        profile = planning.split_setting(setting)[1] if setting else None
        def med(key):
            v = [r.extra.get(key) for r in self.rows if r.robots >= 2
                 and (profile is None or planning.split_setting(r.setting)[1] == profile)]
            v = [x for x in v if x is not None and x == x]
            if v:
                return percentile(v, 50)
            return planning.THIN_OVERHEAD_PRIOR_BPS if (profile or '').startswith('thin') else planning.OVERHEAD_PRIOR_BPS
        return med('overhead_up_bps_per_robot'), med('overhead_down_bps_per_robot')

    def _edge_ms(self) -> float:
        v = [r.extra.get('edge_cpu_ms_per_frame') for r in self.rows]
        v = [x for x in v if x is not None and x == x]
        return percentile(v, 50) if v else planning.EDGE_MS_PRIOR

    def _down_bytes(self) -> float:
        v = [r.extra.get('bytes_down_per_frame') for r in self.rows]
        v = [x for x in v if x is not None and x == x]
        return percentile(v, 50) if v else planning.DOWN_BYTES_PRIOR

    def predict(self, s: planning.Search) -> tuple[float, float, int, int]:
        """(link floor, edge floor, cap, start) of search ``s`` from what is known now."""
        up, down = self._overhead_bps(s.setting)
        fb = self.frames[s.codec][1]['bytes_mean'] if s.codec in self.frames else planning.DOWN_BYTES_PRIOR
        link = min(planning.link_floor(s.link_mbps, s.fps, fb, up),
                   planning.link_floor(s.link_mbps, s.fps, self._down_bytes(), down))
        edge = s.edges * 1e3 / (self._edge_ms() * s.fps)
        ladder = self.cfg.robots
        cap = int(min(max(ladder), max(1, math.floor(planning.CAP_OVER_LINK_FLOOR * link))))
        return link, edge, cap, planning.start_count(min(link, edge), cap, ladder)

    def estimate_text(self, searches: list[planning.Search]) -> str:
        """The run's estimated duration (printed before the first cell), with the static skips."""
        cfg = self.cfg
        cells = 0
        lines = []
        for s in searches:
            why = self._static_skip(s)
            if why:
                lines.append(f'  skip {s.codec} {s.setting} {s.link_mbps:g} Mbit/s {s.fps:g} Hz {s.edges}e: {why}')
                continue
            link, edge, cap, start = self.predict(s)
            cells += planning.cells_estimate(start, min(link, edge), cap, cfg.robots, cfg.resolution, cfg.max_bisect)
        groups = len({(s.setting, s.edges) for s in searches})
        cell_s = cfg.settle_s + cfg.seconds + cfg.budget_ms / 1e3 + 2 * cfg.queue_ms / 1e3 + 0.5 + CELL_JOIN_S
        total = cells * cell_s + len(searches) * SEARCH_S + groups * EDGES_START_S
        return (f'plan: {len(searches)} searches, ~{cells} cells of ~{cell_s:.0f} s, {groups} edge start(s): '
                f'estimated {total / 60:.0f} min (+ frames encoded above)\n' + '\n'.join(lines))

    def _static_skip(self, s: planning.Search) -> str | None:
        loss = LOSSY.loss if planning.split_setting(s.setting)[0] == 'lossy' else 0.0
        return planning.static_skip(s, frame_bytes=self.frames[s.codec][1]['bytes_mean'],
                                    budget_ms=self.cfg.budget_ms, overhead_bps=self._overhead_bps(s.setting)[0],
                                    loss=loss)

    # --- frames ---------------------------------------------------------------------
    def _encode(self, case: CodecCase) -> tuple[Path, dict]:
        """Frames of ``case`` encoded by the robot-side encoder, on the robot core (and quota)."""
        cfg = self.cfg
        name = case.label.replace('@', '_')
        path = self.out / 'frames' / f'{name}.json'
        path.parent.mkdir(parents=True, exist_ok=True)
        setting = str(case.setting)
        argv = [sys.executable, '-m', 'ladon_bench.fleet.frames', '--setting', setting, '--out', str(path),
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

    def _drain(self, link: NetnsLink, cell_mbps: float) -> float:
        """Waits (on the join link) until the discovery burst has drained; returns the seconds waited."""
        t0 = time.time()
        last = self._counters(link)
        while time.time() - t0 < JOIN_DRAIN_MAX_S:
            time.sleep(1.0)
            now = self._counters(link)
            peak = max(now['up'] - last['up'], now['down'] - last['down']) * 8  # bit/s over ~1 s
            last = now
            if peak < JOIN_DRAIN_SHARE * cell_mbps * 1e6:
                break
        else:
            self.log(f'  the link stayed above {JOIN_DRAIN_SHARE:.0%} of {cell_mbps:g} Mbit/s for '
                     f'{JOIN_DRAIN_MAX_S:.0f} s after the join (a steady load near the cell rate, or a burst)')
        return time.time() - t0

    @staticmethod
    def _counters(link: NetnsLink) -> dict:
        up_drops, _ = _qdisc(link.camera_ns, link.camera_dev)
        down_drops, _ = _qdisc(link.edge_ns, link.edge_dev)
        return {'up': int(_link_stats(link.camera_ns, link.camera_dev)['tx']['bytes']),
                'down': int(_link_stats(link.edge_ns, link.edge_dev)['tx']['bytes']),
                'up_drops': up_drops, 'down_drops': down_drops}

    # --- edges ----------------------------------------------------------------------
    def _run_edges(self, link: NetnsLink, tag: str, searches: list[planning.Search], n_edges: int,
                   cases: dict) -> None:
        cfg = self.cfg
        ncpu = os.cpu_count() or 1
        # One edge: core 1, the robots core 0. Two edges: cores 0 and 1 (the robots float:
        # on this 2-core machine there is no third core for them; their CPU is reported).
        cores = ['1'] if n_edges == 1 else [str(i % ncpu) for i in range(n_edges)]
        ladon = sorted({c.checkpoint for c in cfg.cases if c.codec == 'ladon'}) or ['']
        images = any(c.codec != 'ladon' for c in cfg.cases)
        servers = self._profile_envs(link, tag, n_edges)
        edges = []
        for i in range(n_edges):
            argv = node_command('edge_perception', namespace=f'/base{i + 1}', params={
                'edge_id': f'base{i + 1}', 'checkpoints': ladon, 'serve_image_codecs': images,
                'publish_debug_image': False, 'robot_timeout_s': EDGE_ROBOT_TIMEOUT_S,
                **({'takeover_subscriptions': cfg.takeover_subscriptions} if cfg.takeover_subscriptions else {}),
                **dict(cfg.edge_params)})
            if shutil.which('taskset') and ncpu > 1:
                argv = ['taskset', '-c', cores[i], *argv]
            argv = self._niced(argv)
            edges.append(self._autogroup(link.spawn('edge', argv, env=self.envs['edge'],
                                                    log=self.logs / f'edge{i + 1}_{tag}_{n_edges}e.log')))
        # The edges' own counters (realised batches), recorded beside them: /diagnostics never crosses the veth.
        diag_path = self.records / f'diagnostics_{tag}_{n_edges}e_{self._spawned}.jsonl'
        diag_path.unlink(missing_ok=True)
        diag = link.spawn('edge', [sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', 'diagnostics', '--out',
                                   str(diag_path)], env=self.envs['diag'],
                          log=self.logs / f'diagnostics_{tag}_{n_edges}e.log')
        self._diag = RecordReader(diag_path)
        self.log(f'[{tag}] {n_edges} edge(s) on core(s) {",".join(cores)}')
        first = True
        try:
            for fps, label in dict.fromkeys((s.fps, s.codec) for s in searches):
                group = [s for s in searches if (s.fps, s.codec) == (fps, label)]
                pool = _Players(self, link, cases[label], fps, pin='0' if n_edges == 1 and ncpu > 1 else None,
                                tag=f'{tag}_{n_edges}e')
                try:
                    for s in group:
                        why = self._static_skip(s) or planning.second_edge_skip(s, self._rows_of(s, edges=1))
                        if why:
                            self._skip(s, why)
                            continue
                        self._shape(link, s.link_mbps)
                        first = self._search(link, pool, edges, s, first)
                finally:
                    self._leave_all(link, pool)
        finally:
            stop_processes(edges + [diag] + servers)
            for e in edges + [diag] + servers:
                link.stop(e)

    def _profile_envs(self, link: NetnsLink, tag: str, n_edges: int) -> list[subprocess.Popen]:
        """Sets ``self.envs`` (robot, edge, diag) for the DDS profile of setting ``tag``; starts
        and returns the thin profile's two discovery servers (base namespace).

        fleet: every process SIMPLE discovery (multicast + unicast to every participant) with
        the fleet profile's announcements; the diagnostics recorder stays on the base
        namespace's loopback (LOCALHOST range), so the robots never learn of it.
        thin: robots Discovery Server clients with the thin robot profile, subscribing their
        results best effort (``qos.RESULTS_LIVE``) as one message per frame
        (``perception/results``), edges (and the recorder, which must see
        their /diagnostics) super clients with the thin edge profile; both servers in the base
        namespace with the thin server profile, as a base station would run them.
        """
        profile = planning.split_setting(tag)[1]
        if profile == 'fleet':
            self.envs = {'robot': self.env, 'edge': self.env,
                         'diag': {**self.env, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}}
            self.results_qos, self.results_topic = 'reliable', 'split'
            return []
        # The thin robot subscribes its live results best effort, as one message per frame
        # ('thin-split': on the four split topics, for a side-by-side comparison).
        self.results_qos, self.results_topic = 'best_effort', 'split' if profile == 'thin-split' else 'bundle'
        servers_var = ';'.join(f'{EDGE_ADDR}:{port}' for port in DISCOVERY_PORTS)
        robot = {**self._profile_env('robot'), SERVERS_VAR: servers_var}
        robot.pop(SUPER_CLIENT_VAR, None)
        edge = {**self._profile_env('edge'), SERVERS_VAR: servers_var, SUPER_CLIENT_VAR: 'TRUE'}
        self.envs = {'robot': robot, 'edge': edge, 'diag': edge}
        servers = [link.spawn('edge', server_command(EDGE_ADDR, port, server_id=i, profile=thin_profile('server')),
                              env=self.env,
                              log=self.logs / f'discovery_server{i}_{tag}_{n_edges}e.log')
                   for i, port in enumerate(DISCOVERY_PORTS)]
        self.log(f'[{tag}] discovery servers {servers_var} (base namespace); robots clients, edges super clients')
        return servers

    def _profile_env(self, role: str) -> dict[str, str]:
        """``self.env`` with the UDP-only variant of the thin profile of ``role``."""
        path = write_udp_profile(self.out / f'fastdds_udp_only_thin_{role}.xml', base=thin_profile(role))
        return {**self.env, 'FASTDDS_DEFAULT_PROFILES_FILE': str(path)}

    def _leave_all(self, link: NetnsLink, pool: '_Players') -> None:
        """Stops a pool's robots on the fast link and waits out the edges' teardown of their
        channels, so that burst does not land in the next pool's first cells."""
        if pool.procs and self.cfg.join_mbps:
            self._shape(link, self.cfg.join_mbps)
            pool.trim(0)
            time.sleep(EDGE_ROBOT_TIMEOUT_S + 1.0)
        pool.trim(0)

    def _niced(self, argv: list[str]) -> list[str]:
        return ['nice', '-n', str(self.cfg.nice), *argv] if self.cfg.nice else argv

    def _autogroup(self, proc: subprocess.Popen) -> subprocess.Popen:
        """Gives the process's scheduler autogroup the run's nice value.

        Spawned processes lead their own session, hence their own autogroup
        (``kernel.sched_autogroup_enabled``): the scheduler first shares a core between
        autogroups, so a process's own nice value only ranks it inside its group and -10
        alone changed nothing (an edge waited 0.55 s per second on the run queue while it ran
        0.16 s). The autogroup's nice ranks the group against other sessions.
        """
        if self.cfg.nice:
            try:
                Path(f'/proc/{proc.pid}/autogroup').write_text(str(self.cfg.nice))
            except OSError:
                pass  # no autogroup scheduling here: plain nice applies
        return proc

    def _rows_of(self, s: planning.Search, **change) -> list[FleetRow]:
        key = planning.Search(**{**{f: getattr(s, f) for f in ('codec', 'setting', 'link_mbps', 'fps', 'edges')},
                                 **change}).key
        return [r for r in self.rows if (r.codec, r.setting, r.link_mbps, r.fps, r.edges) == key]

    def _skip(self, s: planning.Search, why: str) -> None:
        self.log(f'  skip {s.codec} {s.setting} {s.link_mbps:g} Mbit/s {s.fps:g} Hz {s.edges}e: {why}')
        self.skipped.append({'codec': s.codec, 'setting': s.setting, 'link_mbps': s.link_mbps, 'fps': s.fps,
                             'edges': s.edges, 'why': s.why, 'skipped': why,
                             'robots_within_budget': 0 if why.startswith('0 robots') else None})
        self.on_row(None)

    # --- one robot-count search -----------------------------------------------------
    def _search(self, link, pool: '_Players', edges, s: planning.Search, first: bool) -> bool:
        """Runs search ``s``; returns whether the edges are still waiting for their first frame."""
        cfg = self.cfg
        case = pool.case
        link_floor, edge_floor, cap, start = self.predict(s)
        self.log(f' search {s.codec} {s.setting} {s.link_mbps:g} Mbit/s {s.fps:g} Hz {s.edges}e ({s.why}): '
                 f'predicted floor link {link_floor:.1f} / edge {edge_floor:.1f} robots, start {start}, cap {cap}')
        results: dict[int, bool] = {}
        step = dict(start=start, cap=cap, ladder=cfg.robots, resolution=cfg.resolution, max_bisect=cfg.max_bisect)
        n = planning.next_count(results, **step)
        while n is not None:
            t_add = time.time()
            # Robots join over a faster link: discovering a new robot (its ~25 endpoints to every
            # edge, the edges' per-robot endpoints to every robot, graph updates) is a burst that
            # kept a 1 Mbit/s link saturated for > 30 s when 8 robots joined 2 edges. The cell
            # measures the steady state; the join burst is reported apart (docs/FLEET_BENCH.md).
            before = len(pool.procs)
            joining = n != before and cfg.join_mbps > s.link_mbps  # robots leaving: a burst too
            drain_s = 0.0
            if joining:
                self._shape(link, cfg.join_mbps)
            pool.trim(n)
            j0 = self._counters(link)
            pool.grow(n)
            timeout = cfg.start_timeout_s if first else cfg.join_timeout_s + 0.5 * n
            served = pool.wait_served(t_add if not first else 0.0, timeout, edges)
            j1 = self._counters(link)
            joins = [join_seconds(recs, s.fps) for recs in pool.records()[before:n]] if n > before and not first else []
            edges_starting = first
            first = False
            if joining:
                if n < before:
                    # The edges drop a silent robot after robot_timeout_s and tear its channels
                    # down (another burst): let that happen on the fast link too.
                    time.sleep(EDGE_ROBOT_TIMEOUT_S + 1.0)
                drain_s = self._drain(link, s.link_mbps)
                self._shape(link, s.link_mbps)
            if served < n:
                self.log(f'  {case.label} {s.link_mbps:g} Mbit/s {s.fps:g} Hz {s.edges}e: only {served}/{n} robots '
                         f'served within {timeout:.0f} s (logs in {self.logs})')
            time.sleep(cfg.settle_s)
            row = self._window(link, pool, edges, case, s.setting, s.link_mbps, s.fps, s.edges, n)
            if planning.confirm_failure(results, row.within_budget):
                self.log(f'  {case.label:>12} {s.setting} {s.link_mbps:>4g} Mbit/s {s.fps:>4g} Hz {s.edges}e '
                         f'{n:>3} robots: first cell of the search over budget (fps min {row.fps_delivered_min:.1f}, '
                         f'p95 {row.latency_p95_ms:.0f} ms, up {row.link_util:.0%}): measured once more')
                first_try = row
                time.sleep(cfg.settle_s)
                row = self._window(link, pool, edges, case, s.setting, s.link_mbps, s.fps, s.edges, n)
                row.extra.update(first_try_fps_min=first_try.fps_delivered_min,
                                 first_try_p95_ms=first_try.latency_p95_ms, first_try_link_util=first_try.link_util)
            row.extra['search_why'] = s.why
            row.extra['join_drain_s'] = round(drain_s, 1)  # on the join link, after every robot was served
            row.extra['edges_starting'] = edges_starting  # this cell's robots met edges still starting
            # Robots that joined for this cell (over the join-rate link): first frame -> first result [s].
            row.extra['join_first_result_s'] = [round(j, 3) for j in joins if j == j]
            if n > before and not row.extra.get('edges_starting'):
                # What the joins cost the link, per robot that joined (until every robot was
                # served: discovery, graph updates, the first frames and results included).
                row.extra.update(joined=n - before, join_bytes_up_per_robot=(j1['up'] - j0['up']) / (n - before),
                                 join_bytes_down_per_robot=(j1['down'] - j0['down']) / (n - before))
            self.rows.append(row)
            self.on_row(row)
            results[n] = row.within_budget
            self.log(f'  {case.label:>12} {s.setting} {s.link_mbps:>4g} Mbit/s {s.fps:>4g} Hz {s.edges}e '
                     f'{n:>3} robots: '
                     f'fps min {row.fps_delivered_min:.1f} '
                     f'p50/p95 {row.latency_p50_ms:.0f}/{row.latency_p95_ms:.0f} ms '
                     f'up {row.link_util:.0%} down {row.extra["link_util_down"]:.0%} edge {row.edge_util:.0%} '
                     f'batch {row.batch_mean:.2f} -> {"ok" if row.within_budget else "over"}')
            n = planning.next_count(results, **step)
        return first

    def _census_start(self, link: NetnsLink) -> list[subprocess.Popen]:
        """Starts ``rtps_census`` on both veths for the window (what each side sends, by RTPS class)."""
        return [subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, '-m', 'ladon_bench.link.rtps_census',
                                  dev, f'{self.cfg.seconds:g}'], env=self.env, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
                for ns, dev in ((link.camera_ns, link.camera_dev), (link.edge_ns, link.edge_dev))]

    @staticmethod
    def _census_end(procs: list[subprocess.Popen]) -> list[dict | None]:
        """The censuses' results (up, down); None for one that failed."""
        out = []
        for proc in procs:
            try:
                text, _ = proc.communicate(timeout=30)
                out.append(json.loads(text.strip().splitlines()[-1]))
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                proc.kill()
                proc.wait()
                out.append(None)
        return out

    def _window(self, link, pool: '_Players', edges, case, setting, rate, fps, n_edges, n) -> FleetRow:
        cfg = self.cfg
        census = self._census_start(link)
        time.sleep(0.3)  # the census sockets open (python start-up) before the window's first counters
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
        batches, batched = self._diag_delta(t0, t1, len(edges))
        ovh_up, ovh_down = self._overhead_bps(setting)
        info = self.frames[case.label][1]
        cell = CellInput(codec=case.label, setting=setting, link_mbps=rate, robots=n, fps=fps, edges=n_edges,
                         t0=t0, t1=t1, t_check=t_check, budget_ms=cfg.budget_ms,
                         up_tx_bytes=c1['up'] - c0['up'], down_tx_bytes=c1['down'] - c0['down'],
                         up_tx_bytes_check=c2['up'] - c0['up'], down_tx_bytes_check=c2['down'] - c0['down'],
                         edge_cpu_s=tuple(b - a for a, b in zip(e0, e1)), player_cpu_s=p1 - p0,
                         encode_ms_p50=info['encode_ms_p50'], frame_bytes=info['bytes_mean'],
                         qdisc_drops_up=c1['up_drops'] - c0['up_drops'],
                         qdisc_drops_down=c1['down_drops'] - c0['down_drops'], loadavg_1min=os.getloadavg()[0],
                         diag_batches=batches, diag_frames_batched=batched,
                         overhead_prior_up_bps=ovh_up, overhead_prior_down_bps=ovh_down)
        row = cell_row(cell, pool.records())
        up, down = self._census_end(census)
        row.extra.update(census_per_robot_bps(up, down, n), dds_profile=planning.split_setting(setting)[1])
        row.extra.update({f'overhead_{side}_protocol_bps_per_robot': protocol_overhead_bps(row, side)
                          for side in ('up', 'down')})
        row.extra['robot_cpu_quota'] = cfg.robot_cpu or None
        row.extra['rate_point'] = case.rate_point
        row.extra['edge_params'] = dict(cfg.edge_params) or None
        return row

    def _diag_delta(self, t0: float, t1: float, n_edges: int) -> tuple[float, float]:
        """(batches, frames in them) the edges ran between their last statuses before ``t0`` and ``t1``.

        From each edge's own counters on /diagnostics (published once a second), so the span
        is the window give or take a second; NaN unless every edge reported on both sides.
        """
        self._diag.poll()
        by_edge: dict[str, list[dict]] = {}
        for r in self._diag.rows:
            by_edge.setdefault(r['hw'], []).append(r)
        batches = frames = 0.0
        if len(by_edge) < n_edges:
            return math.nan, math.nan
        for recs in by_edge.values():
            before = [r for r in recs if r['t'] <= t0]
            upto = [r for r in recs if r['t'] <= t1]
            if not before or not upto or 'batches_run' not in upto[-1]['values']:
                return math.nan, math.nan
            a, b = before[-1]['values'], upto[-1]['values']
            batches += int(b['batches_run']) - int(a.get('batches_run', 0))
            frames += int(b['frames_batched']) - int(a.get('frames_batched', 0))
        return batches, frames


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
        argv = [sys.executable, '-m', 'ladon_ros.ros.tools.bench_nodes', 'latent-player', '--frames',
                str(self.b.frames[self.case.label][0]), '--rate-hz', f'{self.fps:g}', '--results', str(rec),
                '--results-qos', self.b.results_qos, '--results-topic', self.b.results_topic,
                '--ros-args', '-r', f'__ns:=/robot{k}']
        if self.pin is not None and shutil.which('taskset'):
            argv = ['taskset', '-c', self.pin, *argv]
        argv = self.b._niced(argv)
        proc = self.b._autogroup(self.link.spawn('camera', argv, env=self.b.envs['robot'],
                                                 log=self.b.logs / f'{name}.log'))
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

