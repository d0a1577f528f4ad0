"""Receive pacing: a saturated edge takes its robots' frames in bursts, not one wake per frame.

What a received frame costs the edge is mostly the executor's wake, not the frame: rclpy's
executor rebuilds its wait set and walks every subscription, timer and service of the node on
each wake (~0.3 ms at 36 robots, against ~60 us to deserialise a latent), and it wakes once
per frame when frames trickle in one at a time. Under overload most of those frames are
later replaced by a newer one of the same robot and never served, so that work only takes
edge time from the frames that are served (docs/FLEET_BENCH.md, overload).

While the edge is saturated (a full batch already waits, so a frame received now is not
served sooner for being received now) the receive thread pauses ``pause_s`` after each
burst of ``burst_s`` of receiving; the edge node's pause ends early when the worker takes a
batch (``FairFrameQueue.wait_below``), so the worker never waits for a pause to end.
Meanwhile each robot's newest frame waits in its DDS reader (the latent subscription is
keep-last 1: a newer frame replaces an older one there, as it would in the queue), and the
next wake takes every waiting robot's frame at once.
Robots are taken in the executor's order of one wake, all of them before the next wake, so
every robot reaches the fair queue each burst: the queue's fairness is unchanged. An edge
that is not saturated never pauses (light load: each frame is taken the moment it arrives).

No rclpy: the edge node calls ``after_receive`` at the end of each latent callback; clock and
sleep are injectable for the unit tests.
"""
from __future__ import annotations

import time
from typing import Callable


class ReceivePacer:
    """Pauses the receive thread between bursts while the edge is saturated (see the module doc).

    Args:
        pause_s: Length of one pause [s]; 0 = never pause.
        burst_s: Receiving between two pauses [s] (at least one frame is taken).
        clock: Seconds, monotonic.
        sleep: Blocks the calling (receive) thread for at most the given seconds (the edge
            node passes the queue's ``wait_below``: the pause ends when a batch is taken).

    Attributes:
        pauses: Pauses taken so far.
        paused_s: Their total length [s].
    """

    def __init__(self, pause_s: float, *, burst_s: float = 0.005, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if pause_s < 0 or burst_s < 0:
            raise ValueError(f'pause_s and burst_s must be >= 0, got {pause_s}, {burst_s}')
        self.pause_s, self.burst_s = float(pause_s), float(burst_s)
        self._clock, self._sleep = clock, sleep
        self._burst_end: float | None = None  # None: not in a burst (the next saturated frame starts one)
        self.pauses = 0
        self.paused_s = 0.0

    def after_receive(self, saturated: bool) -> float:
        """Call after each received frame; returns the seconds paused now (0.0 when none).

        Args:
            saturated: Whether a full batch already waits for the worker.
        """
        if not saturated or self.pause_s <= 0:
            self._burst_end = None  # a burst starts with the next saturated frame
            return 0.0
        now = self._clock()
        if self._burst_end is None:
            self._burst_end = now + self.burst_s
        if now < self._burst_end:
            return 0.0
        self._sleep(self.pause_s)
        end = self._clock()
        self.pauses += 1
        self.paused_s += end - now  # a pause may end early (a batch was taken)
        self._burst_end = end + self.burst_s
        return end - now
