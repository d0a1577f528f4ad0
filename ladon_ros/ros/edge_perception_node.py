"""``edge_perception`` (base station): latent frames from one or many robots -> three tasks.

Subscription callbacks convert the message to a ``WireFrame`` and put it in
``ladon_ros.fleet.queue.FairFrameQueue`` (keep-latest per robot: a newer frame of the same
robot replaces one not yet served, and is counted as ``frames_dropped_stale``); while a full
batch already waits, the receive callbacks pause between bursts (``ladon_ros.fleet.pacing``:
newer frames collect in the DDS readers and one executor wake takes them all). One worker
thread runs ``ladon_ros.edge.serving.BatchServer``: a batch (at most one frame per robot,
robots in fair order of the edge time they cost) is validated and decoded frame by frame,
run through the body and the heads its robots' subscribers want as ONE batch, published per
robot, and each robot is charged its edge time. A rejected frame is counted under its reason
and logged rate-limited; the next valid frame is served as usual. The quarantine rules are
``ladon_ros.edge.serving.RobotHealth``'s; this node converts, calls and publishes.
"""
from __future__ import annotations

import os
import threading
import time

from std_msgs.msg import Header

from ladon_ros.edge import EdgePerception
from ladon_ros.edge.serving import Arrival, BatchServer
from ladon_ros.errors import FrameRejected
from ladon_ros.fleet.discovery import SUPER_CLIENT_VAR, edge_env
from ladon_ros.fleet.pacing import ReceivePacer
from ladon_ros.fleet.queue import FairFrameQueue
from ladon_ros.msg import LabelInfo, LatentFrame
from ladon_ros.ros import qos
from ladon_ros.ros.common import run_node
from ladon_ros.ros.conversions import latent_to_wire, to_label_info
from ladon_ros.ros.diagnostics import Diagnostics, status
from ladon_ros.ros.fleet_view import FleetView, fleet_settings
from ladon_ros.ros.managed import ManagedModelNode
from ladon_ros.ros.params import EdgeConfig
from ladon_ros.ros.robot_channel import RobotChannel
from ladon_ros.ros.stats import PipelineStats
from ladon_ros.tasks import TASKS
from ladon_ros.weights import default_checkpoint, resolve_ladon_checkpoint

FEEDBACK_PERIOD_S = 0.5
QUARANTINE_CHECK_S = 0.1  # a flooding robot is cut off within this of its n-th frame


class EdgePerceptionNode(ManagedModelNode):
    """Serves its share of the fleet's robots (``FleetView``) with one model set."""

    CONFIG = EdgeConfig

    def __init__(self, **kwargs):
        super().__init__('edge_perception', **kwargs)
        self.edge: EdgePerception | None = None
        self.stats = PipelineStats()
        self.robots: list[RobotChannel] = []  # the robots served now
        self.channels: dict[str, RobotChannel] = {}  # served + subscribed ahead (fleet), by namespace
        self.fleet: FleetView | None = None
        # Held while the worker publishes for a robot and while a robot's topics are removed
        # (the fleet moved it to another edge): never publish on a destroyed publisher.
        self._robots_lock = threading.Lock()
        self.label_pubs = {}
        self._feedback_timer = self._quarantine_timer = None
        # frames waiting per robot (converted on arrival)
        self.queue: FairFrameQueue[RobotChannel, Arrival] = FairFrameQueue()
        self.server: BatchServer | None = None
        self.pacer = ReceivePacer(0.0)  # configured in load()
        self._worker: threading.Thread | None = None
        self.diagnostics = Diagnostics(self, self._diagnostic_statuses)
        self.autostart()

    # -- lifecycle ----------------------------------------------------------------------
    def load(self, cfg: EdgeConfig) -> None:
        self.load_model(cfg)
        stamp = self.get_clock().now().to_msg()
        for task in TASKS:
            pub = self.create_publisher(LabelInfo, f'label_info/{task}', qos.LATCHED)
            threshold = cfg.min_score if task == 'detection' else 0.0
            pub.publish(to_label_info(self.edge.classes, task, Header(stamp=stamp), threshold))
            self.label_pubs[task] = pub
        # A pause ends early when the worker takes a batch: the worker never waits for it.
        self.pacer = ReceivePacer(cfg.receive_pause_ms / 1e3,
                                  sleep=lambda s: self.queue.wait_below(self.cfg.max_batch, s))
        self._feedback_timer = self.create_timer(FEEDBACK_PERIOD_S, self._publish_feedback)
        self._quarantine_timer = self.create_timer(QUARANTINE_CHECK_S, self._quarantine)
        served = ', '.join(f'{m.model_id}@{m.rate_point} [{h}]' for h, m in self.edge.served_models.items())
        settings = fleet_settings(self, cfg)
        self.get_logger().info(f'edge {settings.edge_id!r} loaded {served}; robots: '
                               + ('discovered in the graph' if settings.static_robots is None
                                  else str(list(settings.static_robots))))
        self.fleet = FleetView(self, settings, self._set_robots, lambda: self.stats.served, self._served_here)

    def load_model(self, cfg: EdgeConfig) -> None:
        ladon = [c or resolve_ladon_checkpoint('') for c in cfg.checkpoints]
        teacher = None
        if cfg.serve_image_codecs:
            teacher = cfg.teacher_checkpoint or default_checkpoint('teacher')
        self.edge = EdgePerception.from_checkpoints(
            ladon, teacher, backend=cfg.backend, device=cfg.device, threads=cfg.threads, int8=cfg.int8,
            warn=self.get_logger().warning, top_k=cfg.top_k, min_score=cfg.min_score,
            max_image_side=cfg.max_image_side, max_mask_side=cfg.max_mask_side, verify_encoding=cfg.verify_encoding)
        self.metas = list(self.edge.served_models.values())
        if 'torch' in self.edge.engines.values():
            # torch's default is one OpenMP thread per core; on cores shared with other
            # processes its idle workers spin: 226 instead of 24 ms of CPU per frame measured
            # (2 threads vs 1, both cores busy), the cost of a served frame doubling under overload.
            import torch
            torch.set_num_threads(cfg.threads)
        self.server = BatchServer(self.edge, self.queue, self._wants, self._publish_one, self._reject)
        self.get_logger().info(f'engines: {self.edge.engines}')

    def model_loaded(self) -> bool:
        return self.edge is not None

    def free_model(self) -> None:
        self.edge = self.server = None  # stop() has joined the worker: nothing else holds it

    def start(self) -> None:
        self.queue.open()
        self._worker = threading.Thread(target=self.server.run, args=(self.cfg.max_batch,), name='edge_worker',
                                        daemon=True)
        self._worker.start()
        if self.fleet is not None:
            self.fleet.set_enabled(True)  # announce 'serving': robots hash to this edge again

    def stop(self) -> None:
        if self.fleet is not None:
            self.fleet.set_enabled(False)  # the other edges take this edge's robots
        self.queue.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        self.queue.clear()

    def unload(self) -> None:
        if self.fleet is not None:
            self.fleet.destroy()
            self.fleet = None
        self._set_robots(())
        for p in self.label_pubs.values():
            self.destroy_publisher(p)
        for timer in (self._feedback_timer, self._quarantine_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._feedback_timer = self._quarantine_timer = None
        self.label_pubs, self.edge, self.server = {}, None, None

    # -- fleet --------------------------------------------------------------------------
    def _set_robots(self, namespaces: tuple[str, ...], ahead: tuple[str, ...] = (),
                    fresh_after_ns: int | None = None) -> None:
        """Serves exactly ``namespaces`` from now on; holds channels (subscription and result
        publishers, matched by DDS) for ``ahead`` too, without serving them, so taking one of
        those over is a flag flip. Topics of robots in neither go down.

        ``fresh_after_ns`` (an edge was just lost): a robot taken over whose newest frame here
        arrived after this time (node clock) had that frame served by nobody: it is served now
        instead of waiting up to a camera period for the next one.
        """
        serve, now_ns = set(namespaces), self.get_clock().now().nanoseconds
        before = sorted(r.ns for r in self.robots)
        for ns in sorted(set(self.channels) - serve - set(ahead)):
            robot = self.channels.pop(ns)
            with self._robots_lock:
                robot.closed = True
                self.queue.forget(robot)
                robot.destroy()
        for ns in sorted(serve | set(ahead)):
            robot = self.channels.get(ns)
            if robot is None:
                robot = RobotChannel(self, ns, self._on_latent, served_by=self.fleet.s.edge_id if self.fleet else '')
                if self.active:
                    robot.activate()  # lifecycle publishers made while active start disabled
                self.channels[ns] = robot
            if (ns in serve) != robot.serving:
                held = robot.held
                with self._robots_lock:
                    robot.set_serving(ns in serve, now_ns)
                    if not robot.serving:
                        self.queue.forget(robot)  # its frame waiting here is the new owner's now
                if (robot.serving and self.active and held is not None and fresh_after_ns is not None
                        and held[1] > fresh_after_ns):
                    robot.health.received_since_served += 1
                    self._enqueue(robot, *held)
        self.robots = [r for ns, r in sorted(self.channels.items()) if r.serving]
        after = [r.ns for r in self.robots]
        if after != before:
            added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
            self.get_logger().info(f'serving {[r.name for r in self.robots]} (+{added} -{removed}); '
                                   f'subscribed ahead {sorted(ahead)}')

    def _served_here(self, ns: str) -> bool:
        robot = self.channels.get(ns)
        return robot is not None and robot.served_here

    # -- receive ------------------------------------------------------------------------
    def _on_latent(self, robot: RobotChannel, msg: LatentFrame) -> None:
        now = self.get_clock().now().nanoseconds
        transit_ms = (now - _stamp_ns(msg.header)) / 1e6
        paused, robot.pauses_seen = self.pacer.pauses != robot.pauses_seen, self.pacer.pauses
        robot.link.on_arrival(msg.sequence, len(msg.data), transit_ms, now, paused_since_last=paused)
        if not robot.serving:
            robot.held = (msg, now)  # subscribed ahead: another edge serves it; kept for a takeover
            return
        robot.health.received_since_served += 1
        if self.active:
            self._enqueue(robot, msg, now)
            # saturated: a full batch waits, so frames taken later are served no later
            self.pacer.after_receive(self.queue.waiting() >= self.cfg.max_batch)

    def _enqueue(self, robot: RobotChannel, msg: LatentFrame, arrival_ns: int) -> None:
        try:
            frame = latent_to_wire(msg)
        except FrameRejected as err:  # a shape that is no (C, H, W): refused as the worker would
            self._reject(robot, err.reason, err.detail)
            return
        if self.queue.put(robot, Arrival(frame, arrival_ns, _stamp_ns(msg.header), msg.sequence, msg.header)):
            self.stats.dropped_stale += 1

    # -- serve (worker thread: BatchServer calls these) -----------------------------------
    def _wants(self, robot: RobotChannel) -> tuple[str, ...]:
        with self._robots_lock:  # the fleet may destroy the channel's publishers meanwhile
            if robot.closed:
                return ()  # moved away: decoded and checked, no head run, nothing published
            wants = robot.wanted_tasks(self.cfg.publish_debug_image)
        for task in TASKS:
            if task not in wants:
                robot.skipped[task] += 1
        return wants

    def _publish_one(self, robot: RobotChannel, arrival: Arrival, res, wants: tuple[str, ...]) -> bool:
        stages = {'transit': (arrival.arrival_ns - arrival.stamp_ns) / 1e6, 'decode': res.timings_ms['decode'],
                  'heads': res.timings_ms['heads']}
        stages['total'] = (self.get_clock().now().nanoseconds - arrival.stamp_ns) / 1e6
        try:
            with self._robots_lock:
                if robot.closed or not robot.serving:
                    return False  # moved to another edge while this batch ran
                robot.publish(arrival, res, stages, wants=wants,
                              debug_image=self.cfg.publish_debug_image, alpha=self.cfg.overlay_alpha)
                took_over = robot.first_served_since(arrival.arrival_ns)
        except Exception:  # noqa: BLE001
            if not self.context.ok():
                return False  # SIGINT/SIGTERM shut rclpy down before close() stopped this worker
            raise  # BatchServer counts it as 'publish_error'
        robot.health.served()
        # announced in the heartbeat from now on, once its results reach their readers
        robot.served_here = robot.served_here or robot.results_reach_readers()
        if took_over:
            self.get_logger().info(f'{robot.name}: first result since serving it: frame arrived '
                                   f'{took_over[0] * 1e3:.0f} ms, result published {took_over[1] * 1e3:.0f} ms '
                                   'after it became this edge\'s')
        self.stats.on_served(len(arrival.frame.payload), stages, self.get_clock().now().nanoseconds)
        return True

    def _reject(self, robot: RobotChannel, reason: str, detail: str) -> None:
        self.stats.on_rejected(reason)
        robot.rejected[reason] += 1
        robot.health.consecutive_rejected += 1  # reset when one of its frames is served
        self.log.warning(reason, f'rejected a frame from {robot.name}: {reason}: {detail} '
                         f'({self.stats.rejected[reason]} {reason} so far)')

    # -- periodic -----------------------------------------------------------------------
    def _quarantine(self) -> None:
        """Pauses robots whose recent frames were all refused; resumes them when time is up.

        Runs in the executor thread (subscriptions are created and destroyed there only).
        """
        n = self.cfg.quarantine_after if self.cfg else 0
        now = time.monotonic()
        for r in list(self.channels.values()):
            h = r.health
            if h.quarantined_until is not None:
                if now >= h.quarantined_until:
                    r.resume()
                    self.get_logger().info(f'{r.name}: quarantine over, receiving its frames again')
            elif r.serving and h.due(n):
                with self._robots_lock:
                    pause = r.pause(now, self.cfg.quarantine_s)
                    self.queue.forget(r)
                self.get_logger().error(f'{r.name}: {h.received_since_served} frames since its last served one, '
                                        f'the last {h.consecutive_rejected} checked all refused '
                                        f'({dict(r.rejected)}): not receiving it for {pause:.0f} s')

    def _publish_feedback(self) -> None:
        if not self.active:
            return
        now = self.get_clock().now()
        for r in self.robots:
            r.publish_feedback(now.to_msg(), now.nanoseconds)

    def _diagnostic_statuses(self) -> list:
        values = self.stats.summary(self.get_clock().now().nanoseconds)
        values['frames_lost_on_link'] = str(sum(r.link.lost for r in self.robots))  # sequence gaps
        server = self.server
        values['batches_run'] = str(server.batches if server else 0)
        values['receive_pauses'] = str(self.pacer.pauses)  # saturated: frames taken in bursts
        values['receive_paused_s'] = f'{self.pacer.paused_s:.1f}'
        values['frames_batched'] = str(server.frames if server else 0)
        for task in TASKS:  # frames whose head was not run: none of its topics had a subscriber
            values[f'heads_skipped_{task}'] = str(server.skipped.get(task, 0) if server else 0)
        if self.edge is not None:
            values['engines'] = ', '.join(sorted(set(self.edge.engines.values())))
        hw = self.get_fully_qualified_name()
        level, text = self.health(serving=f'serving {len(self.robots)} robot(s)', rejected=self.stats.rejected,
                                  rejected_what='rejected frames')
        statuses = [status('edge_perception: pipeline', hw, level, text, values),
                    *(r.diagnostic(hw, self.queue.account(r)) for r in self.robots)]
        if self.fleet is not None:
            statuses.append(self.fleet.diagnostic(hw))
        return statuses


def _stamp_ns(header: Header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def main(args=None) -> int:
    """Console entry point (``edge_perception``).

    With a discovery server (``ROS_DISCOVERY_SERVER``) the edge must be a super client: a
    plain client never learns the robots' latent publishers (it would serve nobody). Set
    here, before rclpy creates the participant, unless the user chose otherwise.
    """
    if SUPER_CLIENT_VAR not in os.environ:
        os.environ.update(edge_env(os.environ))
    return run_node(EdgePerceptionNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
