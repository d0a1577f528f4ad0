"""The edge's view of the fleet: heartbeats and the ROS graph -> the robots this edge serves.

Thin glue around ``ladon_ros.fleet``: a timer publishes this edge's ``EdgeHeartbeat`` on
``/ladon/edges`` and folds the heartbeats heard into ``EdgePeers``; another polls the graph
for ``<ns>/latent`` publishers into ``RobotDirectory``. After each change the assignment is
recomputed and ``on_change(robots, ahead, fresh_after_ns)`` is called with this edge's robots,
the robots it subscribes to ahead of need (``takeover_subscriptions``) and, right after an
edge was lost, the node-clock time after which that edge served nothing (it had missed two
heartbeats), in the executor thread, like every callback of the node.

Why subscribe ahead: a takeover that first has to create a subscription waits for DDS to
match it to the robot's publisher (and the new result publishers to the robot's
subscribers), which took most of the takeover time under load. An edge that already
receives a robot's frames (and holds its result publishers) serves it the moment it owns
it. The cost is link traffic: each robot's latents also go to the subscribed-ahead edges.
"""
from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass
from typing import Callable

from rclpy.duration import Duration
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.qos import DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from ladon_ros.fleet.assignment import EdgeInfo, owner, robots_of, successors_of
from ladon_ros.fleet.membership import RobotDirectory, RobotFilter, latent_topic, robots_in_graph
from ladon_ros.fleet.peers import EdgePeers, StandbyPolicy
from ladon_ros.msg import EdgeHeartbeat

HEARTBEAT_TOPIC = '/ladon/edges'
GRAPH_POLL_S = 0.25  # robots appear within this (plus DDS discovery) of their first publisher
# A robot that moves to another LIVE edge (one joined or came back) stays served here until
# the new owner announces it in its heartbeat (once it has served it), at most this long [s]:
# the new owner needs a moment to subscribe, match and run its first batch (a freshly started
# edge's first inference took over 1 s under load: with 1 s, gaps of 1.2-1.9 s), and the robot
# should not go unserved meanwhile.
HANDOVER_S = 3.0
# takeover_subscriptions: which robots an edge subscribes to ahead of need.
TAKEOVER_SUBSCRIPTIONS = ('backup', 'all', 'none')


def _received_monotonic(info, now_s: float) -> float:
    """When the middleware received a message, on ``time.monotonic()``'s clock (``now_s`` is
    monotonic now): its ``reception_timestamp`` (this host's wall clock, set by the rmw on
    arrival) moved by how long ago that was. ``now_s`` when the rmw gives none."""
    try:
        received_ns = int(info['reception_timestamp'])
    except (TypeError, KeyError, ValueError):
        return now_s
    if received_ns <= 0:
        return now_s
    return now_s - max(0.0, (time.time_ns() - received_ns) * 1e-9)


def heartbeat_qos(lease_s: float) -> QoSProfile:
    """Heartbeats: newest only, best effort (the next one follows a period later), and an
    AUTOMATIC liveliness lease so a killed edge is reported by DDS within ``lease_s``."""
    return QoSProfile(reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST, depth=8,
                      durability=DurabilityPolicy.VOLATILE, liveliness=LivelinessPolicy.AUTOMATIC,
                      liveliness_lease_duration=Duration(seconds=lease_s))


@dataclass(frozen=True)
class FleetSettings:
    """What the fleet view needs from the edge's config (see ``EdgeConfig``)."""

    edge_id: str
    static_robots: tuple[str, ...] | None
    robot_filter: RobotFilter
    robot_timeout_s: float
    standby: bool
    pinned_robots: tuple[str, ...]
    heartbeat_period_s: float
    edge_timeout_s: float
    takeover_subscriptions: str = 'none'


def default_edge_id(node) -> str:
    """Host name + the node's fully qualified name: unique on a site, stable across restarts."""
    return f'{socket.gethostname()}{node.get_fully_qualified_name()}'


def fleet_settings(node, cfg) -> FleetSettings:
    """The fleet part of an ``EdgeConfig`` ('' namespaces resolve to the node's own)."""
    static = None
    if not cfg.discover_robots:
        static = tuple(ns or node.get_namespace() for ns in cfg.robot_namespaces)
    return FleetSettings(
        edge_id=cfg.edge_id or default_edge_id(node), static_robots=static,
        robot_filter=RobotFilter.from_patterns(cfg.robot_patterns), robot_timeout_s=cfg.robot_timeout_s,
        standby=cfg.standby, pinned_robots=tuple(p for p in cfg.pinned_robots if p),
        heartbeat_period_s=cfg.heartbeat_period_s, edge_timeout_s=cfg.edge_timeout_s,
        takeover_subscriptions=cfg.takeover_subscriptions)


class FleetView:
    """Publishes this edge's heartbeat and tracks the robots it must serve.

    Args:
        node: The edge node.
        settings: Fleet parameters.
        on_change: Called with the sorted robot namespaces this edge now serves, those it
            subscribes to ahead (the robots it would take over; disjoint from the first) and
            ``fresh_after_ns``: after a loss, frames that arrived after this node-clock time
            were served by no lost edge (None otherwise).
        frames_served: Returns the edge's served-frame count (for the heartbeat).
        served_here: Whether this edge published a result for a robot since it took it. The
            heartbeat announces only those: an edge that hands a robot over keeps serving it
            until the new owner announces it, i.e. until the new owner serves it.
    """

    def __init__(self, node, settings: FleetSettings,
                 on_change: Callable[[tuple[str, ...], tuple[str, ...], int | None], None],
                 frames_served: Callable[[], int], served_here: Callable[[str], bool] = lambda ns: True):
        self.node, self.s = node, settings
        self.on_change, self.frames_served, self.served_here = on_change, frames_served, served_here
        self.instance = random.getrandbits(63)
        self.standby = StandbyPolicy(standby=settings.standby)
        self.peers = EdgePeers(self._me(), timeout_s=settings.edge_timeout_s)
        self.directory = RobotDirectory(settings.robot_filter, settings.robot_timeout_s, settings.static_robots)
        self.enabled = False  # serving only while the node is active
        self.mine: tuple[str, ...] = ()
        self.ahead: tuple[str, ...] = ()  # subscribed, not served: taken over without a DDS match
        self.announced: dict[str, frozenset] = {}  # edge id -> robots it says it serves
        self.handover_until: dict[str, float] = {}  # robot -> when this edge lets go of it
        self.duplicate_ids = 0
        qos = heartbeat_qos(settings.edge_timeout_s)
        self.pub = node.create_publisher(EdgeHeartbeat, HEARTBEAT_TOPIC, qos)
        self.sub = node.create_subscription(
            EdgeHeartbeat, HEARTBEAT_TOPIC, self._on_heartbeat, qos,
            event_callbacks=SubscriptionEventCallbacks(liveliness=self._on_liveliness))
        self.timers = [node.create_timer(settings.heartbeat_period_s, self._tick)]
        if self.directory.discovering:
            self.timers.append(node.create_timer(GRAPH_POLL_S, self._poll_graph))
        self._tick()

    # -- facts in ------------------------------------------------------------------------
    def set_enabled(self, enabled: bool) -> None:
        """Serve (node active) or hand every robot to the others (inactive)."""
        self.enabled = enabled
        self._tick()

    def _me(self) -> EdgeInfo:
        serving = self.standby.serving and getattr(self, 'enabled', False)
        return EdgeInfo(self.s.edge_id, serving, self.s.pinned_robots)

    def _on_heartbeat(self, msg: EdgeHeartbeat, info) -> None:
        if msg.edge_id == self.s.edge_id:
            if msg.instance != self.instance:
                self.duplicate_ids += 1
                self.node.log.warning('duplicate_edge_id', f'another live edge announces edge_id '
                                      f'{msg.edge_id!r}: robots may be served twice; give each edge its own edge_id')
            return
        now = time.monotonic()
        edge = EdgeInfo(msg.edge_id, bool(msg.serving), tuple(msg.pinned_robots))
        robots = frozenset(msg.robots)
        changed = self.announced.get(msg.edge_id) != robots
        self.announced[msg.edge_id] = robots
        if self.peers.heard(edge, now, received_s=_received_monotonic(info, now)) or (changed and self.handover_until):
            self._recompute()

    def _on_liveliness(self, event) -> None:
        if event.not_alive_count_change > 0:  # a writer missed its lease: drop the silent edge(s) now
            now, heard = time.monotonic(), dict(self.peers.heard_at)
            self._lost(self.peers.lost(now, grace_s=2 * self.s.heartbeat_period_s), heard, now, 'liveliness lost')

    def _lost(self, gone: tuple[str, ...], heard: dict[str, float], now: float, why: str) -> None:
        """Logs the edges just found gone (how long since last heard: the takeover's first step)
        and reassigns their robots."""
        if gone:
            self.node.get_logger().info(f'edge(s) lost ({why}): ' + ', '.join(
                f'{e} last heard {(now - heard[e]) * 1e3:.0f} ms ago' for e in gone))
            # Two heartbeats missed: a live edge would have sent them, so the lost ones served
            # nothing after that (a process stalled longer than the lease is the exception).
            silent_s = now - max(heard[e] for e in gone) - 2 * self.s.heartbeat_period_s
            self._recompute(self.node.get_clock().now().nanoseconds - int(silent_s * 1e9))

    def _poll_graph(self) -> None:
        robots = robots_in_graph(self.node.get_topic_names_and_types())
        counts = {ns: self.node.count_publishers(latent_topic(ns)) for ns in robots}
        if self.directory.update(counts, time.monotonic()):
            self._recompute()

    def _tick(self) -> None:
        now = time.monotonic()
        heard = dict(self.peers.heard_at)
        self._lost(self.peers.expire(now), heard, now, 'not heard for edge_timeout_s')
        self._recompute()
        self.pub.publish(EdgeHeartbeat(
            header=Header(stamp=self.node.get_clock().now().to_msg()), edge_id=self.s.edge_id,
            instance=self.instance, serving=self.peers.me.serving, pinned_robots=list(self.s.pinned_robots),
            robots=[r for r in self.mine if self.served_here(r)], frames_served=int(self.frames_served())))

    # -- decision -------------------------------------------------------------------------
    def _recompute(self, fresh_after_ns: int | None = None) -> None:
        if self.enabled and self.standby.observe(self.peers.live(), self.s.edge_id, time.monotonic()):
            self.node.get_logger().warning('hot standby taking over: a serving edge was lost')
        self.peers.me = self._me()
        live = self.peers.live()
        for gone in set(self.announced) - {e.edge_id for e in live}:
            del self.announced[gone]
        mine = robots_of(self.s.edge_id, self.directory.robots, live) if self.peers.me.serving else ()
        mine = tuple(sorted({*mine, *self._handing_over(mine, live)}))
        ahead = tuple(sorted(set(self._ahead(live)) - set(mine)))
        if (mine, ahead) != (self.mine, self.ahead):
            self.mine, self.ahead = mine, ahead
            self.on_change(mine, ahead, fresh_after_ns)

    def _ahead(self, live: list[EdgeInfo]) -> tuple[str, ...]:
        """Robots to subscribe to ahead of need (``takeover_subscriptions``).

        'backup': those this edge takes over if their owner dies (rendezvous hashing names
        exactly one such edge per robot, so each robot's latents go to two edges); 'all':
        every robot (any number of deaths, but every edge receives every robot); 'none'.
        """
        if not self.enabled or self.s.takeover_subscriptions == 'none':
            return ()
        if self.s.takeover_subscriptions == 'all':
            return self.directory.robots
        return successors_of(self.s.edge_id, self.directory.robots, live)

    def _handing_over(self, mine: tuple[str, ...], live: list[EdgeInfo]) -> set[str]:
        """Robots this edge still serves while their new (live) owner takes them over."""
        now = time.monotonic()
        keep = set()
        for robot in set(self.mine) - set(mine):
            new = owner(robot, live)
            if (self.peers.me.serving and new is not None and robot in self.directory.robots
                    and robot not in self.announced.get(new, ())
                    and now < self.handover_until.setdefault(robot, now + HANDOVER_S)):
                keep.add(robot)
        self.handover_until = {r: t for r, t in self.handover_until.items() if r in keep}
        return keep

    def diagnostic(self, hardware_id: str):
        """The fleet status for /diagnostics: this edge's role, the live edges, why it serves whom."""
        from diagnostic_msgs.msg import DiagnosticStatus

        from ladon_ros.ros.diagnostics import status
        me = self.peers.me
        role = 'serving' if me.serving else ('standby' if self.enabled else 'inactive')
        live = self.peers.live()
        level, text = DiagnosticStatus.OK, f'{role}: {len(self.mine)} robot(s) of {len(self.directory.robots)}'
        if self.duplicate_ids:
            level, text = DiagnosticStatus.ERROR, f'{text}; another edge announces the same edge_id'
        values = {
            'edge_id': self.s.edge_id, 'role': role,
            'live_edges': ' '.join(f'{e.edge_id}({"serving" if e.serving else "standby"})' for e in live),
            'robots_served': ' '.join(self.mine),
            'robots_subscribed_ahead': ' '.join(self.ahead),
            'takeover_subscriptions': self.s.takeover_subscriptions,
            'robots_known': ' '.join(self.directory.robots),
            'robots_refused_by_pattern': ' '.join(sorted(self.directory.refused)),
            'assignment': 'static list' if not self.directory.discovering else
            'rendezvous hashing over serving edges' + (f'; pinned here: {" ".join(self.s.pinned_robots)}'
                                                       if self.s.pinned_robots else ''),
            'duplicate_edge_id_heartbeats': self.duplicate_ids,
            # Handled more than edge_timeout_s after they arrived (callbacks running late): ignored.
            'stale_heartbeats_ignored': self.peers.stale,
        }
        return status('edge_perception: fleet', hardware_id, level, text, values)

    def destroy(self) -> None:
        """Removes timers and topics (the others notice within the lease and take over)."""
        for t in self.timers:
            self.node.destroy_timer(t)
        self.node.destroy_subscription(self.sub)
        self.node.destroy_publisher(self.pub)
        self.timers = []
