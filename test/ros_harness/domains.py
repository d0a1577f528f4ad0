"""The ``ROS_DOMAIN_ID`` of every DDS test: one allocator, one range, locked per id.

Ids come from ``POOL``: 0-59 and 100-101, all inside the 0-101 that ../shared/ENVIRONMENT.md
calls safe (from 102 up, Fast DDS's UDP ports run into the kernel's ephemeral ports).
Left out: 60-99 (engineers' hand-run DDS) and the defaults of the CLI that people run by
hand next to the tests (``CLI_DEFAULTS``: demo and bench-link 47, bench-fleet 48, the
adaptive link run 46, the keep-latest probe 44).

``ros_domain(name)`` gives each name one id for the whole test run (a pytest process): the first
free id of the pool, claimed by an exclusive ``flock`` on ``/tmp/ladon_ros_test_domains/<id>.lock``
that this process holds until it exits (the kernel drops it even on SIGKILL, so nothing goes
stale). Two checkouts testing at once therefore never share an id, and within one run each
name has its own. Only when the whole pool is held by other runs does a name share one of
this run's own ids (tests of a run never overlap in time); a run that holds none fails
with the reason.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

SAFE = range(0, 102)        # ../shared/ENVIRONMENT.md
HAND_RUN = range(60, 100)   # engineers' DDS by hand (team rules)
POOL = tuple(d for d in SAFE if d not in HAND_RUN)
CLI_DEFAULTS = frozenset({44, 46, 47, 48})
LOCK_DIR = Path('/tmp/ladon_ros_test_domains')

_held: dict[int, int] = {}    # id -> open lock file descriptor (kept open: the lock lives with it)
_names: dict[str, int] = {}   # name -> id, for this run


def ros_domain(name: str) -> int:
    """The ``ROS_DOMAIN_ID`` of ``name`` in this test run (the same id on every call)."""
    if name not in _names:
        _names[name] = _claim()
    return _names[name]


def _claim() -> int:
    if not LOCK_DIR.is_dir():
        LOCK_DIR.mkdir(exist_ok=True)
        os.chmod(LOCK_DIR, 0o1777)  # like /tmp: any user's run can add its lock files
    for dom in POOL:
        if dom in CLI_DEFAULTS or dom in _held:
            continue
        # Read-only is enough for flock, and opens a lock file that another user created.
        fd = os.open(LOCK_DIR / f'{dom}.lock', os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _held[dom] = fd
        return dom
    if not _held:
        raise RuntimeError(f'every test ROS_DOMAIN_ID is held by other test runs (locks in {LOCK_DIR}); '
                           'wait for them to finish')
    own = sorted(_held)
    return own[len(_names) % len(own)]
