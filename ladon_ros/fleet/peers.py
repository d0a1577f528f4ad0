"""The live edges, as one edge sees them through the heartbeat topic.

Every edge publishes a heartbeat (its id, whether it serves, its pinned robots) every
``period`` seconds; an edge not heard for ``timeout_s`` is gone. The DDS liveliness lease
of the heartbeat topic tells the same sooner on a crash (``lost()`` is called from the
liveliness event), and the timeout covers what liveliness cannot name (which writer died).

A hot standby (``StandbyPolicy``) holds its weights but serves nothing until a serving edge
it has heard is lost; then it serves for good (the operator demotes it by restarting it),
so a flapping edge cannot bounce robots back and forth.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ladon_ros.fleet.assignment import EdgeInfo


@dataclass
class EdgePeers:
    """Last heartbeat time and content of every other edge.

    Args:
        me: This edge (always live to itself).
        timeout_s: An edge not heard for this long is gone [s].
    """

    me: EdgeInfo
    timeout_s: float = 0.4
    heard_at: dict[str, float] = field(default_factory=dict)
    info: dict[str, EdgeInfo] = field(default_factory=dict)
    stale: int = 0  # heartbeats older than timeout_s when handled: ignored

    def heard(self, edge: EdgeInfo, now_s: float, received_s: float | None = None) -> bool:
        """Records a heartbeat; True if this edge is new or changed (the assignment may move).

        ``received_s``: when the middleware received it, on ``now_s``'s clock (default: now). A
        heartbeat handled more than ``timeout_s`` after it arrived is stale and ignored: an edge
        whose callbacks ran late (measured at load averages of 10-50 on 2 cores) otherwise
        revived a peer killed meanwhile from its queued heartbeats and handed robots back to it.
        """
        if edge.edge_id == self.me.edge_id:
            return False
        at = now_s if received_s is None else min(now_s, received_s)
        if now_s - at > self.timeout_s:
            self.stale += 1
            return False
        changed = self.info.get(edge.edge_id) != edge
        self.info[edge.edge_id] = edge
        self.heard_at[edge.edge_id] = max(at, self.heard_at.get(edge.edge_id, at))
        return changed

    def expire(self, now_s: float) -> tuple[str, ...]:
        """Forgets edges not heard for ``timeout_s``; returns their ids."""
        gone = tuple(sorted(e for e, t in self.heard_at.items() if now_s - t > self.timeout_s))
        for e in gone:
            self._forget(e)
        return gone

    def lost(self, now_s: float, grace_s: float) -> tuple[str, ...]:
        """A liveliness-lost event: forgets the edges silent for longer than ``grace_s``.

        The event does not say which writer died; the one(s) whose last heartbeat is older
        than a heartbeat period or two are the dead ones.
        """
        gone = tuple(sorted(e for e, t in self.heard_at.items() if now_s - t > grace_s))
        for e in gone:
            self._forget(e)
        return gone

    def _forget(self, edge_id: str) -> None:
        self.heard_at.pop(edge_id, None)
        self.info.pop(edge_id, None)

    def live(self) -> list[EdgeInfo]:
        """Every live edge, this one included, sorted by id."""
        return sorted([self.me, *self.info.values()], key=lambda e: e.edge_id)


@dataclass
class StandbyPolicy:
    """When a hot standby starts serving.

    Args:
        standby: Configured as a standby (False: serves from the start).
    """

    standby: bool = False
    startup_grace_s: float = 2.0
    promoted: bool = False
    seen_serving: set[str] = field(default_factory=set)
    started_s: float | None = None

    @property
    def serving(self) -> bool:
        return not self.standby or self.promoted

    def observe(self, live: list[EdgeInfo], me: str, now_s: float) -> bool:
        """Updates from the live edges; True when this call promoted the standby.

        Promotes when a serving edge seen before is gone, or when no other edge has served
        for ``startup_grace_s`` after the standby started (a fleet whose only edge never
        came up is served by the standby rather than by nobody).
        """
        if self.serving:
            return False
        if self.started_s is None:
            self.started_s = now_s
        now_serving = {e.edge_id for e in live if e.serving and e.edge_id != me}
        lost = self.seen_serving - now_serving
        self.seen_serving |= now_serving
        if lost or (not now_serving and now_s - self.started_s >= self.startup_grace_s):
            self.promoted = True
            return True
        return False
