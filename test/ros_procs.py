"""Helpers of the tests that start DDS processes: private domain ids and stop signals.

Each test run takes a block of 10 ``ROS_DOMAIN_ID``s derived from its process id (100-229:
above the fixed ids of the older tests and the 60-99 that engineers use by hand), and each
test asks for its own slot in that block, so two runs or two tests rarely hear each other.
Slots: test_ros_shutdown.py 0-2, test_ros_launch.py 3-8, fleet tests 7-9 (tests run one after
the other in a run, so a slot may be shared by tests that never overlap).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

SLOTS = 10
# How a user stops a node or a launcher: a terminal's Ctrl-C reaches the whole process
# group and ``ros2 launch`` forwards one more to each node, 50 ms later here; a service
# manager sends SIGTERM. (to the group?, signal) in order.
STOP_SIGNALS = {
    'sigint_once': [(True, signal.SIGINT)],
    'sigint_twice': [(True, signal.SIGINT), (False, signal.SIGINT)],
    'sigterm': [(True, signal.SIGTERM)],
}


def domain_id(slot: int) -> int:
    """The domain id of ``slot`` (0-9) in this test run's block."""
    if not 0 <= slot < SLOTS:
        raise ValueError(f'slot {slot} not in 0..{SLOTS - 1}')
    return 100 + (os.getpid() % 13) * SLOTS + slot


def send_stop(procs: list[subprocess.Popen], how: str) -> None:
    """Sends the signals of ``STOP_SIGNALS[how]`` to processes started with ``start_new_session``."""
    for i, (group, sig) in enumerate(STOP_SIGNALS[how]):
        if i:
            time.sleep(0.05)
        for p in procs:
            if p.poll() is None:
                (os.killpg if group else os.kill)(p.pid, sig)
