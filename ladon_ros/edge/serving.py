"""The edge's serve loop and quarantine rules, without rclpy (the node converts, calls, publishes).

- ``Arrival``: what the queue carries for one frame (the ``WireFrame`` and its transport facts).
- ``BatchServer``: one batch from the fair queue: validate and decode each frame, run the
  good ones through the body and the heads their robots want as ONE batch, publish each
  result, and charge each robot the edge time it cost (garbage and rendering included).
- ``RobotHealth``: the quarantine rules for a robot whose frames are all refused.
"""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Hashable

from ladon_ros.codec.wire import WireFrame
from ladon_ros.edge.perception import EdgePerception, PreparedFrame
from ladon_ros.errors import FrameRejected
from ladon_ros.fleet.queue import FairFrameQueue, Waiting
from ladon_ros.results import FrameResults

# Quarantine counts the frames a robot SENT since its last served one (a saturated edge
# checks only a few of a flood's frames per second; the rest are keep-latest drops), once
# at least this many checked frames in a row were refused.
QUARANTINE_MIN_REFUSED = 3
# A robot on probation (back from a quarantine, nothing served since) is quarantined again
# by its first refused frame, however few it sent: a flood is deserialised only in part by a
# saturated edge (~40 of 190 frames/s here), so waiting for quarantine_after frames made each
# lapse of a flooder's quarantine cost the other robots ~0.5 s of the edge (issue 14).
MAX_QUARANTINE_DOUBLINGS = 4


@dataclass(frozen=True)
class Arrival:
    """One received frame as it waits in the queue.

    Attributes:
        frame: The frame (``WireFrame``), converted from the message on arrival.
        arrival_ns: When it arrived (node clock).
        stamp_ns: The camera's stamp.
        sequence: The robot's frame counter.
        header: The message header, echoed on the results (opaque here).
    """

    frame: WireFrame
    arrival_ns: int
    stamp_ns: int
    sequence: int
    header: Any = None


@dataclass
class RobotHealth:
    """Quarantine state of one robot (``EdgeConfig.quarantine_after``/``quarantine_s``).

    Attributes:
        consecutive_rejected: Checked frames refused since the last served one.
        received_since_served: Frames received since the last served one.
        quarantines: Quarantines so far.
        on_probation: Back from a quarantine and nothing served since.
        quarantined_until: Monotonic [s] while paused, else None.
    """

    consecutive_rejected: int = 0
    received_since_served: int = 0
    quarantines: int = 0
    on_probation: bool = False
    quarantined_until: float | None = None

    def served(self) -> None:
        """One of its frames was served: the slate is clean."""
        self.consecutive_rejected = self.received_since_served = 0
        self.on_probation = False

    def due(self, quarantine_after: int) -> bool:
        """Whether to quarantine it now (``quarantine_after`` 0: never)."""
        if not quarantine_after or self.quarantined_until is not None:
            return False
        return (self.on_probation and self.consecutive_rejected > 0) or (
            self.consecutive_rejected >= QUARANTINE_MIN_REFUSED and self.received_since_served >= quarantine_after)

    def pause(self, now: float, base_s: float) -> float:
        """Starts a quarantine (doubling per repeat, at most 16x); returns its length [s]."""
        length = base_s * 2 ** min(self.quarantines, MAX_QUARANTINE_DOUBLINGS)
        self.quarantined_until = now + length
        self.quarantines += 1
        return length

    def resume(self) -> None:
        """The quarantine is over: on probation from now on."""
        self.quarantined_until = None
        self.consecutive_rejected = self.received_since_served = 0
        self.on_probation = True


R = Hashable


@dataclass
class BatchServer:
    """Serves batches taken from ``queue`` with ``edge``.

    Args:
        edge: The perception pipeline.
        queue: The fair queue the frames wait in (``Arrival`` per robot).
        wants: Robot -> the tasks whose results somebody subscribes to (heads not wanted are
            not run; a robot wanting none is still validated and decoded: bad input is refused
            and counted as before).
        publish: (robot, arrival, results, tasks run) -> whether it was published (False: the
            robot moved to another edge meanwhile). Called once per served frame.
        reject: (robot, reason, detail) for a refused frame.
        clock: Seconds, for the edge time charged to each robot.

    Attributes:
        batches, frames: Batches run and frames in them.
        skipped: Task -> frames whose head was not run (nobody subscribed).
    """

    edge: EdgePerception
    queue: FairFrameQueue
    wants: Callable[[R], tuple[str, ...]]
    publish: Callable[[R, Arrival, FrameResults, tuple[str, ...]], bool]
    reject: Callable[[R, str, str], None]
    clock: Callable[[], float] = time.perf_counter
    batches: int = 0
    frames: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def run(self, max_batch: int, poll_s: float = 0.5) -> None:
        """Serves until the queue is closed."""
        while (batch := self.queue.take(max_batch, timeout=poll_s)) is not None:
            self.serve(batch)

    def serve(self, batch: list[Waiting]) -> int:
        """One batch: prepare, infer, publish; returns the frames served."""
        ready = self._prepare(batch)
        if not ready:
            return 0
        results = self._infer(ready)
        if results is None:
            return 0
        self.batches, self.frames = self.batches + 1, self.frames + len(ready)
        served = 0
        for (w, _, wants), res in zip(ready, results):
            t0 = self.clock()
            try:
                served += bool(self.publish(w.robot, w.frame, res, wants))
            except Exception:  # noqa: BLE001 - keep the worker alive
                self.reject(w.robot, 'publish_error', traceback.format_exc(limit=3))
            finally:
                self.queue.charge(w.robot, self.clock() - t0)  # rendering its images is its cost
        return served

    def _prepare(self, batch: list[Waiting]) -> list[tuple[Waiting, PreparedFrame, tuple[str, ...]]]:
        """Validates and decodes each frame; a rejected one is counted, the others go on."""
        ready = []
        for w in batch:
            t0 = self.clock()
            try:
                ready.append((w, self.edge.prepare(w.frame.frame), tuple(self.wants(w.robot))))
            except FrameRejected as err:
                self.reject(w.robot, err.reason, err.detail)
            except Exception:  # noqa: BLE001 - a frame must never take the node down
                self.reject(w.robot, 'decode_error', traceback.format_exc(limit=3))
            self.queue.charge(w.robot, self.clock() - t0)  # garbage costs edge time too
        return ready

    def _infer(self, ready) -> list[FrameResults] | None:
        """Body and the wanted heads on the whole batch; each robot is charged its share.

        A frame's share is its ``heads`` time (its part of the body plus the heads its robot
        asked for: a robot wanting only classification costs, and pays, less), and an equal
        part of the rest (result conversion).
        """
        for _, _, wants in ready:
            for task in self.edge.tasks:
                if task not in wants:
                    self.skipped[task] = self.skipped.get(task, 0) + 1
        t0 = self.clock()
        try:
            results = self.edge.infer([p for _, p, _ in ready], [w for _, _, w in ready])
        except Exception:  # noqa: BLE001
            for w, _, _ in ready:
                self.reject(w.robot, 'inference_error', traceback.format_exc(limit=3))
            results = None
        total = self.clock() - t0
        own = [r.timings_ms.get('heads', 0.0) / 1e3 for r in results] if results else [0.0] * len(ready)
        rest = max(0.0, total - sum(own)) / len(ready)
        for (w, _, _), mine in zip(ready, own):
            self.queue.charge(w.robot, min(total, mine + rest))
        return results
