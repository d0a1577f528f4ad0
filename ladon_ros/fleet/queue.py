"""Frames waiting at the edge: keep-latest per robot, batches that share the edge fairly.

Each robot has at most one waiting frame: a newer frame replaces one not yet served (the
result of an old frame is worth less than the result of the new one) and is counted as a
stale drop of that robot. ``take`` hands the worker one batch of at most ``max_batch``
frames, at most one per robot, chosen by start-time fair queueing over edge time: every
robot has a virtual time, the edge time its frames cost so far (``charge``), and the robots
with the lowest virtual time go first (ties: least recently served, then earliest arrival).
So when more robots wait than a batch holds, a robot whose frames cost twice the edge time
is served half as often, and a robot flooding frames gets no more than its share: its
flood only replaces its own waiting frame. A robot that starts waiting again after a pause
starts at the virtual time of the last batch, so idling banks no credit to monopolise the
edge with later.

Isolation beyond ordering: with few robots every waiting robot fits in every batch, so
ordering alone would let a robot whose frames cost far more (a genuine latent claiming a
4096x4096 image) slow every batch. A robot whose virtual time runs more than ``max_lag_s``
ahead of the slowest ACTIVE robot (one that put a frame within ``active_s``) is held back,
even if the edge would idle, until the others have caught up: every active robot gets an
equal share of edge time, and the expensive one gets its share, not more.

Work-conserving within that rule: ``take`` never sleeps while a frame it may hand out waits.
A held-back robot becomes eligible without any ``put`` or ``charge`` when the robot holding
it back stops being active (``active_s`` after its last frame); ``take`` wakes at that moment
instead of sleeping until its timeout (which idled a saturated edge for up to 0.5 s).

Thread-safe (one condition variable): subscription callbacks ``put``, one worker ``take``s.
No rclpy; times come from an injectable clock, so the policy is unit-tested with a fake one.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Generic, Hashable, TypeVar

R = TypeVar('R', bound=Hashable)  # a robot (the edge node uses its RobotChannel)
F = TypeVar('F')                  # a frame (the edge node uses the LatentFrame message)


@dataclass
class RobotAccount:
    """What the queue knows of one robot.

    Attributes:
        received: Frames put.
        served: Frames handed to the worker.
        dropped_stale: Frames replaced by a newer one of the same robot before being served.
        edge_time_s: Edge time charged to the robot (its virtual time starts from this).
        virtual_s: Its position in the fair order (edge time, lifted to the current virtual
            time when it starts waiting again after a pause).
        last_served: Clock time it was last handed out (-inf: never).
        last_put: Clock time of its last frame (-inf: never).
    """

    received: int = 0
    served: int = 0
    dropped_stale: int = 0
    edge_time_s: float = 0.0
    virtual_s: float = 0.0
    last_served: float = float('-inf')
    last_put: float = float('-inf')


@dataclass(frozen=True)
class Waiting(Generic[R, F]):
    """One frame handed out by ``take``: its robot, the frame and when it arrived (clock time)."""

    robot: R
    frame: F
    arrival: float


class FairFrameQueue(Generic[R, F]):
    """Keep-latest per robot, fair batches across robots (see the module doc).

    Args:
        clock: Seconds, monotonic (arrival and service times; a fake one in tests).
        max_lag_s: How far [s of edge time] a robot may run ahead of the slowest active one.
        active_s: A robot that put a frame within this [s] is active.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, max_lag_s: float = 0.25,
                 active_s: float = 1.0):
        self._clock = clock
        self.max_lag_s, self.active_s = float(max_lag_s), float(active_s)
        self._cv = threading.Condition()
        self._waiting: dict[R, Waiting[R, F]] = {}
        self._accounts: dict[R, RobotAccount] = {}
        self._virtual_now = 0.0  # virtual time of the last batch's first robot
        self._closed = False

    # -- producers ----------------------------------------------------------------------
    def put(self, robot: R, frame: F) -> bool:
        """Records ``frame`` as ``robot``'s newest; returns True when it replaced an unserved one."""
        with self._cv:
            acc = self._accounts.setdefault(robot, RobotAccount())
            acc.received += 1
            acc.last_put = self._clock()
            replaced = robot in self._waiting
            if replaced:
                acc.dropped_stale += 1
            else:  # starts waiting: no credit for the time it did not wait
                acc.virtual_s = max(acc.virtual_s, self._virtual_now)
            self._waiting[robot] = Waiting(robot, frame, self._clock())
            self._cv.notify()
            return replaced

    # -- the worker ---------------------------------------------------------------------
    def take(self, max_batch: int, timeout: float | None = None) -> list[Waiting[R, F]] | None:
        """The next batch: at most ``max_batch`` frames, one per robot, in fair order.

        Blocks until a frame may be handed out, ``timeout`` seconds pass ([]), or ``close`` (None).
        """
        if max_batch < 1:
            raise ValueError(f'max_batch must be >= 1, got {max_batch}')
        end = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while True:
                if self._closed:
                    return None
                eligible = self._eligible()
                if eligible:
                    break
                wait = self._until_eligible()
                if end is not None:
                    left = end - time.monotonic()
                    if left <= 0:
                        return []
                    wait = left if wait is None else min(wait, left)
                self._cv.wait(wait)
            order = sorted(eligible, key=self._priority)[:max_batch]
            if order:
                self._virtual_now = max(self._virtual_now, self._accounts[order[0].robot].virtual_s)
            now = self._clock()
            for w in order:
                del self._waiting[w.robot]
                acc = self._accounts[w.robot]
                acc.served += 1
                acc.last_served = now
            if order:
                self._cv.notify_all()  # a receive thread in wait_below may go on receiving
            return order

    def wait_below(self, n: int, timeout: float) -> bool:
        """Blocks until fewer than ``n`` frames wait (the worker took a batch), ``close``, or
        ``timeout`` seconds; returns whether fewer than ``n`` wait. The edge's receive pacing
        pauses with it, so a pause never outlasts the batch the worker is waiting for."""
        with self._cv:
            self._cv.wait_for(lambda: len(self._waiting) < n or self._closed, timeout)
            return len(self._waiting) < n

    def charge(self, robot: R, seconds: float) -> None:
        """Adds edge time spent on ``robot``'s frame (decode + its share of the batch)."""
        if seconds < 0:
            raise ValueError(f'edge time must be >= 0, got {seconds}')
        with self._cv:
            acc = self._accounts.setdefault(robot, RobotAccount())
            acc.edge_time_s += seconds
            acc.virtual_s += seconds
            self._cv.notify_all()  # charging the slowest robot may let a held-back one go

    def _eligible(self) -> list[Waiting[R, F]]:
        """Waiting frames of robots not too far ahead of the slowest active robot."""
        now = self._clock()
        active = [a.virtual_s for a in self._accounts.values() if now - a.last_put <= self.active_s]
        if not active:
            return list(self._waiting.values())
        limit = min(active) + self.max_lag_s
        return [w for w in self._waiting.values() if self._accounts[w.robot].virtual_s <= limit]

    def _until_eligible(self) -> float | None:
        """Clock seconds until a waiting, held-back robot may become eligible by time alone
        (the robots holding it back stop being active); None when nothing waits."""
        if not self._waiting:
            return None
        now = self._clock()
        lowest = min(self._accounts[r].virtual_s for r in self._waiting) - self.max_lag_s
        blockers = [a.last_put + self.active_s - now for a in self._accounts.values()
                    if now - a.last_put <= self.active_s and a.virtual_s < lowest]
        return max(1e-3, min(blockers)) if blockers else None

    def _priority(self, w: Waiting[R, F]) -> tuple[float, float, float]:
        acc = self._accounts[w.robot]
        return acc.virtual_s, acc.last_served, w.arrival

    # -- control and figures ------------------------------------------------------------
    def close(self) -> None:
        """Wakes the worker; ``take`` returns None until ``open``. Waiting frames stay."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def open(self) -> None:
        """Lets ``take`` hand out frames again (after ``close``)."""
        with self._cv:
            self._closed = False

    def clear(self) -> None:
        """Drops every waiting frame (not counted as stale: nobody will serve them)."""
        with self._cv:
            self._waiting.clear()

    def forget(self, robot: R) -> None:
        """Drops ``robot``'s waiting frame and account (it left the fleet)."""
        with self._cv:
            self._waiting.pop(robot, None)
            self._accounts.pop(robot, None)

    def waiting(self) -> int:
        """Frames waiting now."""
        with self._cv:
            return len(self._waiting)

    def account(self, robot: R) -> RobotAccount:
        """A copy of ``robot``'s figures (zeros for a robot never seen)."""
        with self._cv:
            acc = self._accounts.get(robot)
            return RobotAccount(**vars(acc)) if acc is not None else RobotAccount()
