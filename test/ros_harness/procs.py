"""Node processes of the tests: the launcher and the ways a user stops them.

The launcher itself (``NodeProcesses``, ``node_command``) is the package's: ``ladon-ros demo``
and the benchmarks start their nodes with it, so the tests start theirs the same way.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

from ladon_ros.ros.processes import MODULES, NodeProcesses, node_command, ros_arg_value  # noqa: F401 - the tests' import point

# How a user stops a node or a launcher: a terminal's Ctrl-C reaches the whole process
# group and ``ros2 launch`` forwards one more to each node, 50 ms later here; a service
# manager sends SIGTERM. (to the group?, signal) in order.
STOP_SIGNALS = {
    'sigint_once': [(True, signal.SIGINT)],
    'sigint_twice': [(True, signal.SIGINT), (False, signal.SIGINT)],
    'sigterm': [(True, signal.SIGTERM)],
}


def send_stop(procs: list[subprocess.Popen], how: str) -> None:
    """Sends the signals of ``STOP_SIGNALS[how]`` to processes started with ``start_new_session``."""
    for i, (group, sig) in enumerate(STOP_SIGNALS[how]):
        if i:
            time.sleep(0.05)
        for p in procs:
            if p.poll() is None:
                (os.killpg if group else os.kill)(p.pid, sig)
