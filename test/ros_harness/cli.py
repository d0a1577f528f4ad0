"""``ros2`` CLI calls of the tests, robust to discovery.

A CLI call with ``--no-daemon`` (nothing may outlive the test) creates a fresh DDS participant
each time and lists the graph after ``--spin-time`` (0.5 s by default): on a loaded machine the
target node may not be discovered yet, and ``ros2 lifecycle set|get`` / ``ros2 param get`` then
answer "Node not found" before doing anything (seen in a full ``make test`` on a fresh clone:
the ``activate`` of the launched encoder failed so). Such a call is repeated with a longer spin
time until ``retry_s`` have passed; every retry is printed (pytest shows it with a failure) and
counted in the result. Only "Node not found" is retried: the CLI says it before it touches the
node, so repeating cannot apply a transition twice.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

NOT_FOUND = 'Node not found'
# Verbs whose discovery wait is ``--spin-time`` (lifecycle) or ``--timeout`` (param), seconds.
SPIN_OPTION = {'lifecycle': '--spin-time', 'param': '--timeout'}
FIRST_SPIN_S = 1  # doubled per retry, up to 8 (ros2 param takes whole seconds)


@dataclass
class CliResult:
    """The last try of a ``ros2`` call and how many tries it took."""

    returncode: int
    stdout: str
    stderr: str
    tries: int
    waited_s: float

    def __str__(self) -> str:
        return (f'exit {self.returncode} after {self.tries} tries in {self.waited_s:.1f} s\n'
                f'stdout: {self.stdout}\nstderr: {self.stderr}')


def ros2(args: list[str], env: dict, *, retry_s: float = 30.0, timeout: float = 60.0) -> CliResult:
    """One ``ros2`` CLI call, repeated while the CLI has not discovered the node yet.

    Args:
        args: Arguments after ``ros2`` (include ``--no-daemon``).
        env: The environment (the test's ``ROS_DOMAIN_ID``).
        retry_s: Seconds within which "Node not found" is retried.
        timeout: Seconds one try may take.
    """
    option = SPIN_OPTION.get(args[0]) if args else None
    start = time.monotonic()
    spin = FIRST_SPIN_S
    tries = 0
    while True:
        tries += 1
        cmd = ['ros2', *args, *([option, str(spin)] if option else [])]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        waited = time.monotonic() - start
        if NOT_FOUND not in out.stdout + out.stderr or waited >= retry_s:
            return CliResult(out.returncode, out.stdout, out.stderr, tries, waited)
        print(f'ros2 {" ".join(args)}: "{NOT_FOUND}" after {waited:.1f} s (try {tries}, {option} {spin}); '
              'retrying (its participant had not discovered the node yet)')
        spin = min(spin * 2, 8)
