"""What both root benchmarks (bench-link, bench-fleet) do before anything else."""
from __future__ import annotations

import sys


def preflight(name: str, *, robot_cpu: float | None, cleanup: bool) -> int | None:
    """Checks that this machine can build the link (and the CPU quota), removes what killed
    runs left behind; returns an exit code when the command should stop here, else None.

    Args:
        name: The command, for messages (``'bench-link'``).
        robot_cpu: The ``--robot-cpu`` quota (a cgroup is needed when set).
        cleanup: ``--cleanup``: only remove leftovers.
    """
    from ladon_bench.link import cgroup
    from ladon_bench.link.netns import cleanup_stale, unavailable_reason
    reason = unavailable_reason() or (cgroup.unavailable_reason() if robot_cpu else None)
    if reason:
        print(f'{name}: cannot run here: {reason}', file=sys.stderr)
        return 2
    removed = cleanup_stale() + cgroup.cleanup_stale()
    if removed:
        print(f'removed namespaces/cgroups of killed runs: {removed}')
    return 0 if cleanup else None
