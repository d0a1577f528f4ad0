"""``ROS_DOMAIN_ID``s of the DDS tests that used to hard-code theirs, derived per test run.

Each run (one pytest process) takes one of five blocks of 12 ids in 0-59, chosen by its
process id, and each test below owns one id of the block: ids are unique within a run, and
two runs at the same time (two checkouts) share a block only when their pids agree modulo 5.
The other ranges stay free: 60-99 for engineers by hand, 100-229 for ``ros_procs.domain_id``.
All stay at or below 232, the highest id whose Fast DDS UDP ports exist.
"""
from __future__ import annotations

import os

USERS = ('ros_params', 'ros_sources', 'ros_lifecycle', 'faults_edge', 'faults_restart', 'security_launch_args',
         'security_sros2', 'link_netns', 'ros_demo', 'ros_pipeline', 'soak_edge', 'soak_restart')
BLOCKS = 5


def run_domain(user: str, pid: int | None = None) -> int:
    """The domain id of ``user`` (one of ``USERS``) in this run's block (0-59)."""
    block = (os.getpid() if pid is None else pid) % BLOCKS
    return block * len(USERS) + USERS.index(user)
