"""The fleet demo: N robots, M edges sharing them over real DDS, one edge killed halfway.

Every robot is a real ``image_source`` + ``camera_encoder`` pair in namespace ``robot<k>``;
every edge a real ``edge_perception`` in namespace ``base<j>`` (the same layout as
launch/fleet.launch.py). This process only watches: each robot's ``latent`` (what it sent)
and ``perception/frame_stats`` (what came back, with ``served_by``), and the edges'
heartbeats on ``/ladon/edges``. Once every robot is served it measures a window, SIGKILLs
the edge serving the most robots halfway through, and prints per robot the served rate,
which edge served it, and after the kill how long its results paused and who took it over.
With ``discovery_server`` every process finds the others through a Fast DDS Discovery
Server on 127.0.0.1 (no multicast), the edges as super clients (``ladon_ros.fleet.discovery``),
every process with the thin-link profile of its role (docs/FLEET.md "Thin links").
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ladon_ros.config_files import thin_profile
from ladon_ros.fleet.discovery import PROFILE_VAR, SERVERS_VAR, role_vars, server_command
from ladon_ros.msg import EdgeHeartbeat, FrameStats, LatentFrame
from ladon_ros.ros import qos
from ladon_ros.ros.fleet_view import HEARTBEAT_TOPIC
from ladon_ros.ros.processes import NodeProcesses

STARTUP_TIMEOUT_S = 180.0   # the edges import torch and load weights on a shared CPU
TAKEOVER_TIMEOUT_S = 10.0


@dataclass
class RobotLog:
    """What the watcher saw of one robot (monotonic arrival times)."""

    sent: list[float] = field(default_factory=list)                          # latents
    served: list[tuple[float, tuple[int, int], str]] = field(default_factory=list)  # (t, stamp, edge)

    def served_in(self, t0: float, t1: float) -> list[tuple[float, tuple[int, int], str]]:
        return [s for s in self.served if t0 <= s[0] < t1]


class FleetWatcher:
    """Subscribes to every robot's latent and frame_stats and to the edge heartbeats."""

    def __init__(self, node, robots: list[str]):
        self.node = node
        self.robots = {ns: RobotLog() for ns in robots}
        self.heartbeats: dict[str, EdgeHeartbeat] = {}
        self.heard: dict[str, float] = {}
        for ns in robots:
            node.create_subscription(LatentFrame, f'{ns}/latent', lambda m, ns=ns: self._on_latent(ns), qos.LATENT)
            node.create_subscription(FrameStats, f'{ns}/perception/frame_stats',
                                     lambda m, ns=ns: self._on_stats(ns, m),
                                     QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(EdgeHeartbeat, HEARTBEAT_TOPIC, self._on_heartbeat,
                                 QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT))

    def _on_latent(self, ns: str) -> None:
        self.robots[ns].sent.append(time.monotonic())

    def _on_stats(self, ns: str, m: FrameStats) -> None:
        self.robots[ns].served.append((time.monotonic(), (m.header.stamp.sec, m.header.stamp.nanosec), m.served_by))

    def _on_heartbeat(self, m: EdgeHeartbeat) -> None:
        self.heartbeats[m.edge_id] = m
        self.heard[m.edge_id] = time.monotonic()

    def live(self, within: float = 1.0) -> dict[str, EdgeHeartbeat]:
        """Heartbeats of the edges heard within the last ``within`` seconds."""
        now = time.monotonic()
        return {e: h for e, h in sorted(self.heartbeats.items()) if now - self.heard[e] < within}

    def spin_until(self, cond, timeout: float, procs: NodeProcesses | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if cond():
                return True
            if procs is not None:
                _check_alive(procs)
        return False

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)


def _check_alive(procs: NodeProcesses, killed: str = '') -> None:
    for label, p in procs.procs.items():
        if label != killed and p.poll() is not None:
            raise RuntimeError(f'{label} exited early:\n{procs.log(label)[-3000:]}')


def run_fleet_demo(*, robots: int = 4, edges: int = 2, frames: int = 100, rate_hz: float = 5.0,
                   out: str | Path = 'out/fleet_demo', domain_id: int = 47, codec: str = 'ladon',
                   discovery_server: bool = False) -> int:
    """Runs the fleet demo; returns the exit code (1 when a robot went unserved or no takeover).

    Args:
        robots: Robots (namespaces robot1..robotN).
        edges: Edges (namespaces base1..baseM); the kill needs at least two.
        frames: Frames per robot in the measured window (window = frames / rate_hz seconds,
            the kill in its middle).
        rate_hz: Camera rate of every robot [Hz].
        out: Folder for the node logs.
        domain_id: ``ROS_DOMAIN_ID`` of every process.
        codec: Camera codec of the robots.
        discovery_server: Discover through a Fast DDS Discovery Server on 127.0.0.1, UDP port
            11700 + ``domain_id``, instead of multicast; robots, edges and the server then run the
            thin-link profiles (``config/fastdds_thin_*.xml``) unless a profile is exported.
    """
    from ladon_ros.weights import default_checkpoint
    out = Path(out)
    default_checkpoint('ladon')  # write the random fallback once, before the processes race to (no shipped weights)
    names = [f'/robot{k}' for k in range(1, robots + 1)]
    window = frames / rate_hz
    print(f'fleet demo: {robots} robots ({", ".join(names)}) x {edges} edges (base1..base{edges}), codec {codec}, '
          f'{rate_hz:g} Hz per robot, {window:.1f} s window, ROS_DOMAIN_ID {domain_id}', flush=True)
    env = {'OMP_NUM_THREADS': '1'}
    server = None
    if discovery_server:
        address = f'127.0.0.1:{11700 + domain_id}'
        (out / 'logs').mkdir(parents=True, exist_ok=True)
        env[SERVERS_VAR] = address
        # The server's thin profile goes with the nodes' (not when the user exported a profile).
        thin = role_vars({**os.environ, **env}, 'robot').get(PROFILE_VAR) == str(thin_profile('robot'))
        with open(out / 'logs' / 'discovery_server.log', 'w') as log:
            server = subprocess.Popen(
                server_command('127.0.0.1', 11700 + domain_id, profile=thin_profile('server') if thin else None),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        print(f'discovery: Fast DDS Discovery Server {address} (no multicast); robots are plain clients, edges '
              'super clients (they must see every robot\'s latent publisher)'
              f'{"; thin-link profiles" if thin else ""}', flush=True)
    saved = os.environ.get(SERVERS_VAR)
    code = 1
    try:
        code = _demo(robots, edges, names, rate_hz, window, out, domain_id, codec, env)
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # fastdds.py stops its server on SIGINT
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)  # its own session: the server binary too
                server.wait()
        if saved is None:
            os.environ.pop(SERVERS_VAR, None)
        else:
            os.environ[SERVERS_VAR] = saved
    return code


def _demo(robots, edges, names, rate_hz, window, out, domain_id, codec, env) -> int:
    code = 1
    # Per role: the thin profiles behind a discovery server, else the fleet profile (a profile
    # exported by the user wins: then nothing is added and NodeProcesses keeps it).
    inherited = {**os.environ, **env}
    robot_vars, edge_vars = role_vars(inherited, 'robot'), role_vars(inherited, 'edge')
    with NodeProcesses(domain_id, out / 'logs', env) as procs:
        for j in range(1, edges + 1):
            # Site-unique edge ids (the default adds the host name): the same robots hash to the
            # same edges on every machine, so the printed split is reproducible.
            procs.start('edge_perception', label=f'edge_base{j}', namespace=f'/base{j}', env=edge_vars,
                        params={'edge_id': f'base{j}', 'serve_image_codecs': codec != 'ladon',
                                'publish_debug_image': False})
        for k, ns in enumerate(names, 1):
            procs.start('image_source', label=f'source_robot{k}', namespace=ns, env=robot_vars,
                        params={'rate_hz': rate_hz, 'seed': k})
            procs.start('camera_encoder', label=f'encoder_robot{k}', namespace=ns, params={'codec': codec},
                        env=robot_vars)
        if SERVERS_VAR in env:
            # This watcher is a client of the server too. Fast DDS reads the variable once per
            # process and keeps it after it is restored: every later participant of this process
            # would be a client of the stopped server, so a caller that goes on using DDS (a test)
            # runs the demo in a subprocess.
            os.environ[SERVERS_VAR] = env[SERVERS_VAR]
        rclpy.init(args=[], domain_id=domain_id)
        try:
            node = rclpy.create_node('ladon_fleet_demo_watcher')
            code = _run(FleetWatcher(node, names), procs, edges, window)
            node.destroy_node()
        finally:
            rclpy.shutdown()
            exit_codes = procs.stop()
    print(f'nodes stopped: {exit_codes} (-9 = the killed edge); logs in {out / "logs"}', flush=True)
    return code


def _run(w: FleetWatcher, procs: NodeProcesses, edges: int, window: float) -> int:
    t_start = time.monotonic()
    everyone = lambda: all(log.served for log in w.robots.values())  # noqa: E731
    if not w.spin_until(everyone, STARTUP_TIMEOUT_S, procs):
        unserved = [ns for ns, log in w.robots.items() if not log.served]
        print(f'!!! robots never served: {unserved}; see the logs')
        return 1
    print(f'every robot served {time.monotonic() - t_start:.1f} s after start (edges import torch and load '
          'weights; robots are found in the graph, nobody listed them)', flush=True)
    w.spin_until(lambda: len(w.live()) == edges, 5.0)
    w.spin_for(1.0)  # let the assignment settle (start-up handovers)
    _print_heartbeats(w, 'edges on /ladon/edges')
    t0 = time.monotonic()
    w.spin_until(lambda: False, window / 2, procs)
    t_half = time.monotonic()
    _print_rates(w, t0, t_half, 'first half')
    if edges < 2:
        print('one edge: nothing to take over (use --edges 2 or more to see a takeover)')
        return 0
    return _kill_and_takeover(w, procs, t_half, window)


def _kill_and_takeover(w: FleetWatcher, procs: NodeProcesses, t_half: float, window: float) -> int:
    owners = {ns: collections.Counter(s[2] for s in log.served_in(t_half - 2.0, t_half)).most_common(1)
              for ns, log in w.robots.items()}
    owners = {ns: o[0][0] for ns, o in owners.items() if o}
    victim = collections.Counter(owners.values()).most_common(1)[0][0]
    label = f'edge_{victim}'  # edge_id base<j> -> process label edge_base<j>
    moved = [ns for ns, e in owners.items() if e == victim]
    print(f'SIGKILL {victim} (serving {" ".join(moved)})', flush=True)
    t_kill = procs.kill(label)

    def resumed(ns):
        return [s for s in w.robots[ns].served if s[0] >= t_kill and s[2] != victim]

    ok = w.spin_until(lambda: all(resumed(ns) for ns in moved), TAKEOVER_TIMEOUT_S)
    print('takeover (from the kill to the robot\'s next result):')
    for ns in moved:
        first = resumed(ns)[:1]
        if first:
            print(f'  {ns}: {1e3 * (first[0][0] - t_kill):6.0f} ms -> now served by {first[0][2]}')
        else:
            print(f'  {ns}: NOT taken over within {TAKEOVER_TIMEOUT_S:.0f} s')
    w.spin_until(lambda: False, max(0.0, t_kill + window / 2 - time.monotonic()), None)
    t_end = time.monotonic()
    _print_rates(w, t_kill, t_end, 'second half (from the kill)')
    _print_heartbeats(w, 'edges on /ladon/edges now')
    served_late = all(w.robots[ns].served_in(t_end - 2.0, t_end) for ns in w.robots)
    return 0 if ok and served_late else 1


def _print_heartbeats(w: FleetWatcher, title: str) -> None:
    print(f'{title}:')
    for edge_id, h in w.live().items():
        role = 'serving' if h.serving else 'standby'
        print(f'  {edge_id:8s} {role:8s} robots [{" ".join(h.robots)}]  frames_served {h.frames_served}')


def _print_rates(w: FleetWatcher, t0: float, t1: float, title: str) -> None:
    span = max(1e-6, t1 - t0)
    print(f'--- {title}: {span:.1f} s ---')
    print(f'  {"robot":10s} {"sent":>5s} {"served":>6s} {"rate":>8s}  served by')
    for ns, log in w.robots.items():
        served = log.served_in(t0, t1)
        sent = sum(t0 <= t < t1 for t in log.sent)
        by = collections.Counter(s[2] for s in served)
        twice = len(served) - len({s[1] for s in served})
        who = ', '.join(f'{e} ({n})' for e, n in by.most_common()) or '-'
        print(f'  {ns:10s} {sent:5d} {len(served):6d} {len(served) / span:6.1f}/s  {who}'
              + (f'  !!! {twice} frames served twice' if twice else ''), flush=True)
