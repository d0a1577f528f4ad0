"""``edge_perception`` (base station): latent frames from one or many robots -> three tasks.

Subscription callbacks only put the frame in ``ladon_ros.fleet.queue.FairFrameQueue``
(keep-latest per robot: a newer frame of the same robot replaces one not yet served, and is
counted as ``frames_dropped_stale``). One worker thread takes a batch (at most one frame per
robot, robots in fair order of the edge time they cost), validates and decodes each frame
(``EdgePerception.prepare``), runs them through the body and heads as ONE batch, publishes
per robot, and charges each robot its edge time. A rejected frame is counted under its
reason and logged rate-limited; the next valid frame is served as usual.
"""
from __future__ import annotations

import os
import threading
import time
import traceback

from std_msgs.msg import Header

from ladon_ros.edge import EdgePerception, PreparedFrame
from ladon_ros.errors import FrameRejected
from ladon_ros.fleet.discovery import SUPER_CLIENT_VAR, edge_env
from ladon_ros.fleet.queue import FairFrameQueue, Waiting
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
# Quarantine counts the frames a robot SENT since its last served one (a saturated edge
# checks only a few of a flood's frames per second; the rest are keep-latest drops), once
# at least this many checked frames in a row were refused.
QUARANTINE_MIN_REFUSED = 3
# A robot on probation (back from a quarantine, nothing served since) is quarantined again
# by its first refused frame, however few it sent: a flood is deserialised only in part by a
# saturated edge (~40 of 190 frames/s here), so waiting for quarantine_after frames made each
# lapse of a flooder's quarantine cost the other robots ~0.5 s of the edge (issue 14).


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
        # frames waiting per robot: (message, arrival on the node's clock [ns])
        self.queue: FairFrameQueue[RobotChannel, tuple[LatentFrame, int]] = FairFrameQueue()
        self._worker: threading.Thread | None = None
        self.diagnostics = Diagnostics(self, self._diagnostic_statuses)
        # Realised batching (worker thread writes, diagnostics read): batches run, frames in them.
        self.batches_run = self.frames_batched = 0
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
        self.edge = EdgePerception.from_checkpoints(ladon, teacher, device=cfg.device, top_k=cfg.top_k,
                                                    min_score=cfg.min_score, max_image_side=cfg.max_image_side,
                                                    max_mask_side=cfg.max_mask_side,
                                                    verify_encoding=cfg.verify_encoding)
        self.metas = list(self.edge.served_models.values())

    def model_loaded(self) -> bool:
        return self.edge is not None

    def free_model(self) -> None:
        self.edge = None  # stop() has joined the worker: nothing else holds it

    def start(self) -> None:
        self.queue.open()
        self._worker = threading.Thread(target=self._work, name='edge_worker', daemon=True)
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
        self.label_pubs, self.edge = {}, None

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
                    robot.received_since_served += 1
                    self.queue.put(robot, held)
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
        robot.link.on_arrival(msg.sequence, len(msg.data), transit_ms, now)
        if not robot.serving:
            robot.held = (msg, now)  # subscribed ahead: another edge serves it; kept for a takeover
            return
        robot.received_since_served += 1
        if not self.active:
            return
        if self.queue.put(robot, (msg, now)):
            self.stats.dropped_stale += 1

    # -- serve (worker thread) ----------------------------------------------------------
    def _work(self) -> None:
        while (batch := self.queue.take(self.cfg.max_batch, timeout=0.5)) is not None:
            ready = self._prepare(batch)
            results = self._infer(ready) if ready else None
            if results is not None:
                self.batches_run, self.frames_batched = self.batches_run + 1, self.frames_batched + len(ready)
                self._publish(ready, results)

    def _prepare(self, batch: list[Waiting]) -> list[tuple[Waiting, PreparedFrame]]:
        """Validates and decodes each frame; a rejected one is counted, the others go on."""
        ready = []
        for w in batch:
            t0 = time.perf_counter()
            try:
                ready.append((w, self.edge.prepare(latent_to_wire(w.frame[0]))))
            except FrameRejected as err:
                self._reject(w.robot, err.reason, err.detail)
            except Exception:  # noqa: BLE001 - a frame must never take the node down
                self._reject(w.robot, 'decode_error', traceback.format_exc(limit=3))
            self.queue.charge(w.robot, time.perf_counter() - t0)  # garbage costs edge time too
        return ready

    def _infer(self, ready: list[tuple[Waiting, PreparedFrame]]) -> list | None:
        """Body and heads on the whole batch; each robot is charged an equal share of it."""
        t0 = time.perf_counter()
        try:
            results = self.edge.infer([p for _, p in ready])
        except Exception:  # noqa: BLE001
            for w, _ in ready:
                self._reject(w.robot, 'inference_error', traceback.format_exc(limit=3))
            results = None
        share = (time.perf_counter() - t0) / len(ready)
        for w, _ in ready:
            self.queue.charge(w.robot, share)
        return results

    def _publish(self, ready: list[tuple[Waiting, PreparedFrame]], results: list) -> None:
        for (w, _), res in zip(ready, results):
            robot, (msg, arrival_ns) = w.robot, w.frame
            t0 = time.perf_counter()
            stamp_ns = _stamp_ns(msg.header)
            stages = {'transit': (arrival_ns - stamp_ns) / 1e6, 'decode': res.timings_ms['decode'],
                      'heads': res.timings_ms['heads']}
            stages['total'] = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
            try:
                with self._robots_lock:
                    if robot.closed or not robot.serving:
                        continue  # moved to another edge while this batch ran
                    robot.publish(msg, res, stages, debug_image=self.cfg.publish_debug_image,
                                  alpha=self.cfg.overlay_alpha)
                    took_over = robot.first_served_since(arrival_ns)
            except Exception:  # noqa: BLE001 - keep the worker alive
                if not self.context.ok():
                    return  # SIGINT/SIGTERM shut rclpy down before close() stopped this worker
                self._reject(robot, 'publish_error', traceback.format_exc(limit=3))
                continue
            finally:
                self.queue.charge(robot, time.perf_counter() - t0)  # rendering its images is its cost
            robot.consecutive_rejected = robot.received_since_served = 0
            robot.on_probation = False
            # announced in the heartbeat from now on, once its results reach their readers
            robot.served_here = robot.served_here or robot.results_reach_readers()
            if took_over:
                self.get_logger().info(f'{robot.name}: first result since serving it: frame arrived '
                                       f'{took_over[0] * 1e3:.0f} ms, result published {took_over[1] * 1e3:.0f} ms '
                                       'after it became this edge\'s')
            self.stats.on_served(len(msg.data), stages, self.get_clock().now().nanoseconds)

    def _reject(self, robot: RobotChannel, reason: str, detail: str) -> None:
        self.stats.on_rejected(reason)
        robot.rejected[reason] += 1
        robot.consecutive_rejected += 1  # reset when one of its frames is served
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
            if r.quarantined_until is not None:
                if now >= r.quarantined_until:
                    r.resume()
                    self.get_logger().info(f'{r.name}: quarantine over, receiving its frames again')
            elif r.serving and n and ((r.on_probation and r.consecutive_rejected) or (
                    r.consecutive_rejected >= QUARANTINE_MIN_REFUSED and r.received_since_served >= n)):
                pause = self.cfg.quarantine_s * 2 ** min(r.quarantines, 4)
                with self._robots_lock:
                    r.pause(now + pause)
                    self.queue.forget(r)
                self.get_logger().error(f'{r.name}: {r.received_since_served} frames since its last served one, '
                                        f'the last {r.consecutive_rejected} checked all refused '
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
        values['batches_run'], values['frames_batched'] = str(self.batches_run), str(self.frames_batched)
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
