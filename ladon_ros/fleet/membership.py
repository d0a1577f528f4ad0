"""Which robots exist: found in the DDS graph, filtered by patterns, dropped after a timeout.

A robot is a namespace with a publisher of ``ladon_ros/msg/LatentFrame`` on ``<ns>/latent``.
The edge polls the ROS graph (``get_topic_names_and_types`` + ``count_publishers``) and hands
the result to ``RobotDirectory.update``; this module holds no rclpy, so joins, timeouts and
patterns are unit-tested with a fake clock.

A robot whose publisher has been gone for ``timeout_s`` is dropped (a crashed robot's DDS
participant can linger in the graph for its whole lease, so the timeout counts from the
last time a publisher was seen; a short gap, e.g. a camera_encoder restart, keeps it).
A static list (``static``) turns discovery off: those robots are always present.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Iterable, Mapping

LATENT_TOPIC = 'latent'
LATENT_TYPE = 'ladon_ros/msg/LatentFrame'


def normalize(ns: str) -> str:
    """``'robot1'``, ``'/robot1/'`` -> ``'/robot1'``; ``''`` -> ``'/'`` (the root namespace)."""
    parts = [p for p in ns.split('/') if p]
    return '/' + '/'.join(parts)


def latent_topic(ns: str) -> str:
    """The absolute latent topic of robot namespace ``ns``."""
    ns = normalize(ns)
    return f'{ns.rstrip("/")}/{LATENT_TOPIC}'


def robots_in_graph(topics: Iterable[tuple[str, Iterable[str]]]) -> set[str]:
    """Robot namespaces among ``(topic name, type names)`` pairs of the graph."""
    robots = set()
    suffix = '/' + LATENT_TOPIC
    for name, types in topics:
        if name.endswith(suffix) and LATENT_TYPE in types:
            robots.add(normalize(name[:-len(suffix)]))
    return robots


@dataclass(frozen=True)
class RobotFilter:
    """Allow/deny namespace patterns (``fnmatch``; ``*`` also crosses ``/``).

    A robot is served if it matches some ``allow`` pattern and no ``deny`` pattern.
    """

    allow: tuple[str, ...] = ('*',)
    deny: tuple[str, ...] = ()

    @classmethod
    def from_patterns(cls, patterns) -> 'RobotFilter':
        """``['/a/*', '!/a/test*']``: plain entries allow, ``!`` entries deny, '' entries are ignored.

        With no allow entry everything is allowed (``['!/test*']`` = all but the test robots).
        """
        allow = tuple(p for p in patterns if p and not p.startswith('!'))
        deny = tuple(p[1:] for p in patterns if p.startswith('!') and len(p) > 1)
        return cls(allow or ('*',), deny)

    def accepts(self, ns: str) -> bool:
        ns = normalize(ns)
        return (any(fnmatchcase(ns, p) for p in self.allow)
                and not any(fnmatchcase(ns, p) for p in self.deny))


@dataclass(frozen=True)
class Changes:
    """What one ``update`` changed."""

    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.joined or self.left)


@dataclass
class RobotDirectory:
    """The current set of robots, updated from graph observations.

    Args:
        robot_filter: Which namespaces may be served at all.
        timeout_s: A robot with no latent publisher for this long is dropped [s].
        static: A fixed robot list; when given, the graph is ignored.
    """

    robot_filter: RobotFilter = field(default_factory=RobotFilter)
    timeout_s: float = 5.0
    static: tuple[str, ...] | None = None
    last_seen: dict[str, float] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # seen in the graph but filtered out

    def __post_init__(self):
        if self.static is not None:
            self.last_seen = {normalize(r): float('inf') for r in self.static}

    @property
    def robots(self) -> tuple[str, ...]:
        """Current robot namespaces, sorted."""
        return tuple(sorted(self.last_seen))

    @property
    def discovering(self) -> bool:
        return self.static is None

    def update(self, publishers: Mapping[str, int], now_s: float) -> Changes:
        """Folds one graph observation in.

        Args:
            publishers: robot namespace -> number of latent publishers seen now.
            now_s: Monotonic time of the observation [s].
        """
        if self.static is not None:
            return Changes()
        joined = []
        for ns, count in publishers.items():
            ns = normalize(ns)
            if count <= 0:
                continue
            if not self.robot_filter.accepts(ns):
                self.refused.add(ns)
                continue
            if ns not in self.last_seen:
                joined.append(ns)
            self.last_seen[ns] = now_s
        left = [ns for ns, t in self.last_seen.items() if now_s - t > self.timeout_s]
        for ns in left:
            del self.last_seen[ns]
        return Changes(tuple(sorted(joined)), tuple(sorted(left)))
