"""``ladon-ros demo --robots 2 --edges 2`` (short): every robot served, one edge killed, takeover shown.

Real image_source + camera_encoder + edge_perception processes over DDS: 32 s alone, 54 s
under pytest on the shared 2-core machine (most of it the edges importing torch), so it is
marked ``slow`` (not in ``make test``; run it with ``pytest test/test_fleet_demo.py``). Asserts what the demo prints: every robot served by an edge
before the kill, the killed edge's robots served by the survivor after it, clean shutdown of
every other process; once with multicast discovery, once through a Fast DDS Discovery Server.

The command runs in a subprocess, as a user runs it: with ``--discovery-server`` its watcher
(an rclpy node of the command's process) is a client of the server, and Fast DDS keeps that
for every later participant of the process (ros_harness.probe). Run in-process it made the
probes of the tests after it deaf: ``pytest test/test_fleet*.py`` failed test_fleet_isolation.py.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ros_harness import ros_domain

pytestmark = [pytest.mark.ros, pytest.mark.slow]  # DDS processes, ~30-55 s (setup.cfg)


@pytest.mark.parametrize('discovery', [[], ['--discovery-server']], ids=['multicast', 'discovery-server'])
def test_fleet_demo_serves_every_robot_and_shows_the_takeover(tmp_path, capsys, discovery):
    out = subprocess.run(
        [sys.executable, '-m', 'ladon_ros.cli', 'demo', '--robots', '2', '--edges', '2', '--frames', '10',
         '--out', str(tmp_path / 'fleet'), '--domain-id', str(ros_domain(f'fleet_demo{len(discovery)}')), *discovery],
        env={**os.environ, 'LADON_ROS_CACHE': str(tmp_path / 'cache')}, capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL)
    text = out.stdout
    with capsys.disabled():
        print('\n' + text)
    assert out.returncode == 0, text + out.stderr[-3000:]
    first, second = (text.split('--- ')[i] for i in (1, 2))
    rows = dict(re.findall(r'^  (/robot\d)\s+\d+\s+(\d+)\s', first, re.M))
    assert set(rows) == {'/robot1', '/robot2'} and all(int(n) > 0 for n in rows.values()), first
    victim, moved = re.search(r'^SIGKILL (base\d) \(serving ([^)]*)\)', text, re.M).groups()
    survivor = ({'base1', 'base2'} - {victim}).pop()
    for robot in moved.split():
        ms = re.search(rf'^  {robot}:\s+(\d+) ms -> now served by (base\d)$', text, re.M)
        assert ms and ms.group(2) == survivor, text
    for robot in ('/robot1', '/robot2'):
        assert re.search(rf'^  {robot}\s+\d+\s+[1-9]\d*\s.*\b{survivor} \(\d+\)$', second, re.M), second
    assert f"'edge_{victim}': -9" in text and f"'edge_{survivor}': 0" in text
    assert "'encoder_robot1': 0" in text and "'source_robot2': 0" in text
    assert ('Discovery Server 127.0.0.1:' in text) == bool(discovery)
