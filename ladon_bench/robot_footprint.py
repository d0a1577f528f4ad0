"""Memory and start-up time of the robot-side node processes (``ladon-ros bench-robot``).

For each case a node process is spawned as the demo and the launch file spawn it
(``python -m ladon_ros.ros.<node>``, own ``ROS_DOMAIN_ID``) next to a ROS probe that is
already running (``ladon_ros.ros.tools.footprint_probe``): for ``camera_encoder`` the probe
feeds camera images and listens on ``latent``; for ``image_source`` it listens on
``image_raw``. Measured per run:

- ``first_s``: spawn -> first message of the node received by the probe (imports, model
  load, DDS discovery, first encode);
- ``peak_rss_mb``: the process's peak resident set (``VmHWM`` of ``/proc/<pid>/status``)
  after it has served for ``serve_s`` seconds;
- ``torch``: whether libtorch is mapped into the process (``/proc/<pid>/maps``).

No ROS import here: the probe and the node are separate processes.
"""
from __future__ import annotations

import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

NAMESPACE = '/robot1'


@dataclass(frozen=True)
class Case:
    """One node configuration to measure.

    Attributes:
        name: Row label.
        node: ``image_source`` or ``camera_encoder``.
        params: ROS parameters given on the command line.
    """

    name: str
    node: str
    params: dict = field(default_factory=dict)

    @property
    def listen(self) -> str:
        """The topic whose first message ends the start-up (``results``: the edge's classification)."""
        return {'image_source': 'image_raw', 'edge_perception': 'results'}.get(self.node, 'latent')


def default_cases(onnx_dir: str = '') -> list[Case]:
    """image_source; camera_encoder with its defaults, with the torch and the ONNX back end.

    Args:
        onnx_dir: Bundle for the ONNX case ('' = the node's default bundle).
    """
    onnx = {'backend': 'onnx', **({'onnx_dir': onnx_dir} if onnx_dir else {})}
    return [Case('image_source', 'image_source', {'rate_hz': 20.0}),
            Case('camera_encoder', 'camera_encoder'),  # its defaults
            Case('camera_encoder:torch', 'camera_encoder', {'backend': 'torch'}),
            Case('camera_encoder:onnx', 'camera_encoder', onnx)]


def edge_cases() -> list[Case]:
    """edge_perception serving the probe's namespace, with its defaults (ONNX Runtime) and with torch."""
    own = {'discover_robots': False}
    return [Case('edge_perception', 'edge_perception', own),
            Case('edge_perception:torch', 'edge_perception', {**own, 'backend': 'torch'})]


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` field (``VmHWM``, ``VmRSS``) of ``/proc/<pid>/status``; 0 once the process is gone."""
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith(key + ':'):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def maps_torch(pid: int) -> bool:
    """Whether ``libtorch`` is mapped into process ``pid``."""
    try:
        return 'libtorch' in Path(f'/proc/{pid}/maps').read_text()
    except OSError:
        return False


def _reader(stream, out: queue.Queue) -> None:
    for line in iter(stream.readline, ''):
        out.put(line.strip())


def measure_once(case: Case, *, domain_id: int, serve_s: float = 3.0, timeout_s: float = 60.0) -> dict:
    """Spawns ``case`` once; returns its row (``first_s`` is None if nothing came in ``timeout_s``)."""
    with tempfile.TemporaryDirectory(prefix='ladon_footprint_') as log_dir:
        return _measure_once(case, domain_id, serve_s, timeout_s, Path(log_dir))


def _measure_once(case: Case, domain_id: int, serve_s: float, timeout_s: float, log_dir: Path) -> dict:
    from ladon_ros.ros.processes import NodeProcesses  # subprocess only, no rclpy in this process
    with NodeProcesses(domain_id, log_dir) as procs:
        cmd = [sys.executable, '-m', 'ladon_ros.ros.tools.footprint_probe', '--listen', case.listen,
               '--namespace', NAMESPACE] + {'latent': ['--feed-images'], 'results': ['--feed-latents']}.get(
                   case.listen, [])
        with open(log_dir / 'probe.log', 'w') as err:
            probe = subprocess.Popen(cmd, env=procs.env, stdout=subprocess.PIPE, stderr=err, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(probe.stdout, lines), daemon=True).start()
        try:
            if _wait_for(lines, 'READY', timeout_s, probe) is None:
                raise RuntimeError(f'the footprint probe did not start (exit code {probe.poll()}): '
                                   + (log_dir / 'probe.log').read_text(errors='replace')[-1500:])
            t0 = time.monotonic()  # CLOCK_MONOTONIC: the same clock as the probe's FIRST
            node = procs.start(case.node, namespace=NAMESPACE, params=case.params)
            first = _wait_for(lines, 'FIRST', timeout_s, node)
            if first is not None:
                time.sleep(serve_s)
            row = {'case': case.name, 'node': case.node,
                   'first_s': None if first is None else float(first.split()[1]) - t0,
                   'peak_rss_mb': proc_status_kb(node.pid, 'VmHWM') / 1024,
                   'rss_mb': proc_status_kb(node.pid, 'VmRSS') / 1024,
                   'torch': maps_torch(node.pid), 'alive': node.poll() is None}
        finally:
            probe.terminate()
            probe.wait(10)
    if row['first_s'] is None:
        row['log_tail'] = (log_dir / f'{case.node}.log').read_text(errors='replace')[-1500:]
    return row


def _wait_for(lines: queue.Queue, word: str, timeout_s: float, proc: subprocess.Popen):
    """The first probe line starting with ``word``; None on timeout or when ``proc`` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.05)
        except queue.Empty:
            if proc.poll() is not None:
                return None
            continue
        if line.startswith(word):
            return line
    return None


def run_footprint(cases: list[Case], *, runs: int = 3, domain_id: int = 77, serve_s: float = 3.0,
                  timeout_s: float = 60.0) -> tuple[list[dict], list[dict]]:
    """Measures every case ``runs`` times (one process at a time).

    Returns:
        (summary rows: median ``first_s`` and max ``peak_rss_mb`` per case, every single run).
    """
    every, summary = [], []
    for case in cases:
        rows = [measure_once(case, domain_id=domain_id, serve_s=serve_s, timeout_s=timeout_s)
                for _ in range(runs)]
        every += rows
        firsts = [r['first_s'] for r in rows if r['first_s'] is not None]
        summary.append({
            'case': case.name, 'runs': len(rows), 'failed': len(rows) - len(firsts),
            'first_s': statistics.median(firsts) if firsts else float('nan'),
            'first_s_max': max(firsts) if firsts else float('nan'),
            'peak_rss_mb': max(r['peak_rss_mb'] for r in rows),
            'torch': 'yes' if any(r['torch'] for r in rows) else 'no'})
    return summary, every


def load_average() -> str:
    """The 1-minute load average, to judge how busy the machine was."""
    try:
        return f'{os.getloadavg()[0]:.2f}'
    except OSError:
        return '?'
