"""Ctrl-C and SIGTERM stop every node executable cleanly: exit code 0 within 5 s, no traceback.

A terminal's Ctrl-C sends SIGINT to the whole process group and ``ros2 launch`` forwards
one more, so each node is tried with SIGINT once, SIGINT twice (group, then forwarded 50 ms
later) and SIGTERM, while frames flow through it. The same for the launch file under the
real launcher is in test_ros_launch.py.
"""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from ros_harness import MODULES, STOP_SIGNALS, node_command, ros_domain, send_stop

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)

STOP_S = 5.0
NS = '/shutdown'
# executable -> (namespace, parameters, a log line that says it is up and serving)
NODES = {
    'image_source': (NS, {'rate_hz': 10.0, 'width': 96, 'height': 72}, 'publishing'),
    'camera_encoder': (NS, {}, ']: active'),
    'edge_perception': ('', {'robot_namespaces': [NS]}, ']: active'),
    # Its own namespace: it would otherwise start reconfiguring the encoder under test.
    'rate_adapter': ('/adapter', {'points': ['jpeg@50']}, 'rate points'),
    # Camera and encoder in one process (own namespace: a second robot for the edge to ignore).
    'robot_camera': ('/composed', {'rate_hz': 10.0, 'width': 96, 'height': 72, 'synthetic_frames': 4}, ']: active'),
}


def stop_and_check(procs: dict[str, subprocess.Popen], logs: dict[str, object], how: str) -> dict:
    """Sends the signals of ``how`` (group-wide or to the process) and returns problems per process.

    Args:
        procs: label -> process started with ``start_new_session=True`` (its own group).
        logs: label -> the path its output goes to.
        how: A key of ``STOP_SIGNALS``.
    """
    send_stop(list(procs.values()), how)
    start = time.monotonic()
    problems = {}
    for label, p in procs.items():
        try:
            p.wait(max(0.1, start + STOP_S - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            problems[label] = f'still running {STOP_S} s after {how}'
            continue
        text = logs[label].read_text(errors='replace')
        if p.returncode != 0 or 'Traceback' in text or 'KeyboardInterrupt' in text:
            problems[label] = f'exit code {p.returncode} after {how}:\n{text[-2500:]}'
    return problems


def wait_for_lines(logs: dict, lines: dict[str, str], procs: dict, timeout: float) -> None:
    """Waits until every process's log holds its ready line (fails with the logs otherwise)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        texts = {k: logs[k].read_text(errors='replace') for k in lines}
        if all(lines[k] in texts[k] for k in lines):
            return
        dead = {k: texts[k][-2000:] for k in lines if procs[k].poll() is not None}
        assert not dead, f'exited before it was up: {dead}'
        time.sleep(0.2)
    pytest.fail(f'not up after {timeout} s: ' + str({k: logs[k].read_text(errors="replace")[-1500:]
                                                       for k in lines}))


@pytest.mark.parametrize('how', list(STOP_SIGNALS))
def test_every_node_executable_stops_cleanly(how, tmp_path):
    assert set(NODES) == set(MODULES), f'not started by this test: {set(MODULES) - set(NODES)}'
    slot = list(STOP_SIGNALS).index(how)
    env = {**os.environ, 'ROS_DOMAIN_ID': str(ros_domain(f'shutdown{slot}')), 'ROS_LOG_DIR': str(tmp_path / 'roslog'),
           'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1', 'LADON_ROS_CACHE': str(tmp_path / 'cache')}
    procs, logs = {}, {}
    try:
        for exe, (ns, params, _) in NODES.items():
            logs[exe] = tmp_path / f'{exe}.log'
            with open(logs[exe], 'w') as out:
                procs[exe] = subprocess.Popen(node_command(exe, namespace=ns, params=params), env=env,
                                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              start_new_session=True)
        wait_for_lines(logs, {k: v[2] for k, v in NODES.items()}, procs, timeout=120)
        time.sleep(1.0)  # frames in flight through source -> encoder -> edge
        problems = stop_and_check(procs, logs, how)
        assert not problems, problems
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
