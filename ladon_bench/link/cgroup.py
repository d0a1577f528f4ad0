"""A weak robot CPU: processes in a cgroup v1 ``cpu`` group with a quota of F cores.

``CpuQuota(0.25)`` makes ``/sys/fs/cgroup/cpu/ldnq<pid>_<n>`` with ``cpu.cfs_quota_us`` =
0.25 x ``cpu.cfs_period_us``; ``add(pid)`` moves a process (its later threads and children
follow).

The period is short (``PERIOD_US``, 10 ms, not the kernel's 100 ms): a quota caps CPU time per
period, it does not slow a job that fits in one. With 100 ms, a 22 ms frame at 0.25 core ran at
full speed (22 of its 25 ms), and a 30 ms one ran 25 ms, waited 75 ms, then finished: a bursty
CPU, not a slow one, and latencies that jumped between runs (docs/BENCHMARKS.md, "Offloading
against the on-robot model"). With 10 ms every job longer than a few ms takes about 1/F of its
CPU time, as on a CPU F times as fast. The kernel's floor of 1 ms of quota lengthens the
period for F < 0.1.

The group is removed by ``close()``, which also runs from ``atexit`` and from the
same SIGINT/SIGTERM/SIGHUP handlers as the namespaces (``netns.install_cleanup_handlers``
closes every live ``NetnsLink``; this module registers its own ``atexit`` and a hook there).
``cleanup_stale()`` removes groups whose owner pid is gone (a SIGKILLed run).

The processes are moved from outside (the harness writes their pid right after spawning):
inside ``ip netns exec`` /sys is a fresh sysfs without the cgroup mounts.
"""
from __future__ import annotations

import atexit
import os
import re
import signal
import threading
import time
from pathlib import Path

CPU_ROOT = Path('/sys/fs/cgroup/cpu')
PREFIX = 'ldnq'
PERIOD_US = 10_000  # [us] of the quota's period (see the module doc)
MIN_QUOTA_US = 1_000  # the kernel refuses a smaller cfs_quota_us
_NAME_RE = re.compile(rf'^{PREFIX}(\d+)_(\d+)$')
_LIVE: set['CpuQuota'] = set()
_LOCK = threading.Lock()
_COUNTER = [0]
_ATEXIT = [False]


def unavailable_reason() -> str | None:
    """Why a CPU quota cannot be set here, or ``None`` when it can."""
    if os.geteuid() != 0:
        return 'needs root (cgroup v1 cpu controller)'
    if not (CPU_ROOT / 'cpu.cfs_quota_us').exists():
        return f'no cgroup v1 cpu controller at {CPU_ROOT}'
    return None


class CpuQuota:
    """One cgroup with a CPU quota of ``cores`` cores (use as a context manager or ``close()``).

    Args:
        cores: Quota in cores (0.25 = a quarter of one core), > 0.
        tag: Readable part of the name (logs only).
    """

    def __init__(self, cores: float, tag: str = ''):
        if not cores > 0:
            raise ValueError(f'cores must be > 0, got {cores}')
        with _LOCK:
            n = _COUNTER[0]
            _COUNTER[0] += 1
        self.cores, self.tag = float(cores), tag
        self.path = CPU_ROOT / f'{PREFIX}{os.getpid()}_{n}'
        self._closed = False
        _register()
        self.path.mkdir()
        with _LOCK:
            _LIVE.add(self)
        # a new group's quota is -1 (none), so any period may be written first
        self.period_us = min(1_000_000, max(PERIOD_US, int(-(-MIN_QUOTA_US // self.cores))))
        (self.path / 'cpu.cfs_period_us').write_text(str(self.period_us))
        (self.path / 'cpu.cfs_quota_us').write_text(str(max(MIN_QUOTA_US, int(round(self.cores * self.period_us)))))

    def __enter__(self) -> 'CpuQuota':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, pid: int) -> None:
        """Moves process ``pid`` (and every thread it has or makes) into the group."""
        (self.path / 'cgroup.procs').write_text(str(int(pid)))

    def pids(self) -> list[int]:
        """Processes in the group now."""
        try:
            return [int(x) for x in (self.path / 'cgroup.procs').read_text().split()]
        except FileNotFoundError:
            return []

    def usage_s(self) -> float:
        """CPU time the group's processes used so far [s] (``cpuacct`` shares the hierarchy here)."""
        f = self.path / 'cpuacct.usage'
        return int(f.read_text()) / 1e9 if f.exists() else float('nan')

    def close(self) -> None:
        """Kills what is still in the group and removes it."""
        if self._closed:
            return
        self._closed = True
        _remove(self.path)
        with _LOCK:
            _LIVE.discard(self)


def _remove(path: Path) -> None:
    # rmdir refuses a group with processes: the owner stopped its own first, a killed owner's
    # processes are killed here (they belong to a run that no longer exists).
    for _ in range(50):
        try:
            pids = [int(x) for x in (path / 'cgroup.procs').read_text().split()]
        except FileNotFoundError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def close_all() -> None:
    """Removes every group this process still holds."""
    with _LOCK:
        live = list(_LIVE)
    for q in live:
        q.close()


def _register() -> None:
    if _ATEXIT[0]:
        return
    _ATEXIT[0] = True
    atexit.register(close_all)
    # The link's signal handlers run close_all of the namespaces, then exit (SystemExit /
    # KeyboardInterrupt), which runs atexit: the groups go with them.
    from ladon_bench.link.netns import install_cleanup_handlers
    install_cleanup_handlers()


def cleanup_stale() -> list[str]:
    """Removes groups named by this module whose owner process is gone; returns their names."""
    removed = []
    if not CPU_ROOT.is_dir():
        return removed
    for d in CPU_ROOT.iterdir():
        m = _NAME_RE.match(d.name)
        if m and d.is_dir() and not Path(f'/proc/{m.group(1)}').exists():
            _remove(d)
            removed.append(d.name)
    return removed


def our_groups() -> list[str]:
    """Names of every group of this module's naming scheme (any owner)."""
    return sorted(d.name for d in CPU_ROOT.iterdir() if _NAME_RE.match(d.name)) if CPU_ROOT.is_dir() else []
