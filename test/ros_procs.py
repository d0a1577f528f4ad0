"""Private ``ROS_DOMAIN_ID``s for tests that start DDS processes.

Each test run takes a block of 10 ids derived from its process id (100-229: above the fixed
ids of the older tests and the 60-99 that engineers use by hand), and each test asks for
its own slot in that block, so two runs or two tests rarely hear each other.
"""
from __future__ import annotations

import os

SLOTS = 10


def domain_id(slot: int) -> int:
    """The domain id of ``slot`` (0-9) in this test run's block."""
    if not 0 <= slot < SLOTS:
        raise ValueError(f'slot {slot} not in 0..{SLOTS - 1}')
    return 100 + (os.getpid() % 13) * SLOTS + slot
