"""Which live edge serves which robot: rendezvous (highest-random-weight) hashing.

Every edge computes the assignment on its own from the same facts (the live edges it hears
on the heartbeat topic and the robots in the DDS graph), so no coordinator is needed and
all edges agree once they see the same graph. Rendezvous hashing moves only the robots it
must: when an edge leaves, exactly its robots move (each to its next-highest edge); when
one joins, it takes only the robots for which it now scores highest.

An operator pins robots to an edge with that edge's ``pinned_robots`` patterns (announced in
its heartbeat): a robot that matches the patterns of some live serving edges is hashed over
those edges only; otherwise over all serving edges.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Iterable, Mapping


@dataclass(frozen=True)
class EdgeInfo:
    """What every edge knows about one live edge (from its heartbeat).

    Attributes:
        edge_id: Unique, stable name of the edge (its node's fully qualified name by default).
        serving: False for a hot standby that has not taken over: it gets no robots.
        pinned: Namespace patterns (``fnmatch``, e.g. ``/warehouse/*``) pinned to this edge.
    """

    edge_id: str
    serving: bool = True
    pinned: tuple[str, ...] = ()

    def pins(self, robot: str) -> bool:
        """True if ``robot`` matches one of this edge's pinned patterns."""
        return any(fnmatchcase(robot, p) for p in self.pinned)


def score(edge_id: str, robot: str) -> int:
    """The rendezvous weight of ``(edge, robot)``: a 64-bit hash, the same on every machine.

    ``hash()`` is salted per process, so a cryptographic digest is used instead.
    """
    digest = hashlib.blake2b(f'{edge_id}\0{robot}'.encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'big')


def owner(robot: str, edges: Iterable[EdgeInfo]) -> str | None:
    """The edge id that serves ``robot``, or None when no edge is serving."""
    serving = [e for e in edges if e.serving]
    pinned = [e for e in serving if e.pins(robot)]
    candidates = pinned or serving
    if not candidates:
        return None
    # Ties (astronomically unlikely) fall to the larger edge id, so the result stays total.
    return max(candidates, key=lambda e: (score(e.edge_id, robot), e.edge_id)).edge_id


def successor(robot: str, edges: Iterable[EdgeInfo]) -> str | None:
    """The edge that takes ``robot`` over if its owner dies, or None (no other edge).

    That is its owner among the other edges, hot standbys counted as serving (a serving
    edge's death promotes them). An edge that joins or leaves changes it for the robots it
    scores highest for only, like the owner.
    """
    edges = list(edges)
    first = owner(robot, edges)
    if first is None:
        return None
    return owner(robot, [EdgeInfo(e.edge_id, True, e.pinned) for e in edges if e.edge_id != first])


def successors_of(edge_id: str, robots: Iterable[str], edges: Iterable[EdgeInfo]) -> tuple[str, ...]:
    """The robots ``edge_id`` would take over if their owner died, sorted."""
    edges = list(edges)
    return tuple(sorted(r for r in robots if successor(r, edges) == edge_id))


def assign(robots: Iterable[str], edges: Iterable[EdgeInfo]) -> dict[str, str | None]:
    """robot -> serving edge id (None when no edge serves) for every robot."""
    edges = list(edges)
    return {r: owner(r, edges) for r in robots}


def robots_of(edge_id: str, robots: Iterable[str], edges: Iterable[EdgeInfo]) -> tuple[str, ...]:
    """The robots ``edge_id`` must serve, sorted."""
    return tuple(sorted(r for r, e in assign(robots, edges).items() if e == edge_id))


def moved(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> dict[str, tuple]:
    """robot -> (old edge, new edge) for every robot whose edge changed (joins/leaves included)."""
    return {r: (before.get(r), after.get(r)) for r in set(before) | set(after)
            if before.get(r) != after.get(r)}
