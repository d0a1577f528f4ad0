"""``edge_perception`` (base station): latent frames from one or many robots -> three tasks.

Subscription callbacks only record the frame (keep-latest per robot: a newer frame of the
same robot replaces one not yet served, and is counted as ``frames_dropped_stale``). One
worker thread takes the frames waiting from all robots, validates and decodes each
(``EdgePerception.prepare``), runs them through the body and heads as ONE batch, and
publishes per robot. A rejected frame is counted under its reason and logged
rate-limited; the next valid frame is served as usual.
"""
from __future__ import annotations

import threading
import traceback

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from ladon_ros.edge import EdgePerception
from ladon_ros.errors import FrameRejected
from ladon_ros.models.spec import TASKS
from ladon_ros.msg import LabelInfo, LatentFrame
from ladon_ros.ros import qos
from ladon_ros.ros.common import run_node
from ladon_ros.ros.conversions import latent_to_wire, to_label_info
from ladon_ros.ros.managed import ManagedModelNode
from ladon_ros.ros.params import EdgeConfig
from ladon_ros.ros.robot_channel import RobotChannel
from ladon_ros.ros.stats import PipelineStats
from ladon_ros.weights import default_checkpoint, resolve_ladon_checkpoint

DIAGNOSTICS_PERIOD_S = 1.0
FEEDBACK_PERIOD_S = 0.5


class EdgePerceptionNode(ManagedModelNode):
    """Serves every robot namespace in ``robot_namespaces`` with one model set."""

    CONFIG = EdgeConfig

    def __init__(self, **kwargs):
        super().__init__('edge_perception', **kwargs)
        self.edge: EdgePerception | None = None
        self.stats = PipelineStats()
        self.robots: list[RobotChannel] = []
        self.label_pubs = {}
        self._feedback_timer = None
        self._pending: dict[RobotChannel, tuple[LatentFrame, int]] = {}
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', qos.DIAGNOSTICS)
        self._diag_timer = self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
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
        self.robots = [RobotChannel(self, ns, self._on_latent) for ns in cfg.robot_namespaces]
        self._feedback_timer = self.create_timer(FEEDBACK_PERIOD_S, self._publish_feedback)
        served = ', '.join(f'{m.model_id}@{m.rate_point} [{h}]' for h, m in self.edge.served_models.items())
        self.get_logger().info(f'serving {[r.name for r in self.robots]} with {served}')

    def load_model(self, cfg: EdgeConfig) -> None:
        ladon = [c or resolve_ladon_checkpoint('') for c in cfg.checkpoints]
        teacher = None
        if cfg.serve_image_codecs:
            teacher = cfg.teacher_checkpoint or default_checkpoint('teacher')
        self.edge = EdgePerception.from_checkpoints(ladon, teacher, device=cfg.device, top_k=cfg.top_k,
                                                    min_score=cfg.min_score)
        self.metas = list(self.edge.served_models.values())

    def model_loaded(self) -> bool:
        return self.edge is not None

    def free_model(self) -> None:
        self.edge = None  # stop() has joined the worker: nothing else holds it

    def start(self) -> None:
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name='edge_worker', daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        with self._cv:
            self._pending.clear()

    def unload(self) -> None:
        for r in self.robots:
            r.destroy()
        for p in self.label_pubs.values():
            self.destroy_publisher(p)
        if self._feedback_timer is not None:
            self.destroy_timer(self._feedback_timer)
            self._feedback_timer = None
        self.robots, self.label_pubs, self.edge = [], {}, None

    # -- receive ------------------------------------------------------------------------
    def _on_latent(self, robot: RobotChannel, msg: LatentFrame) -> None:
        now = self.get_clock().now().nanoseconds
        transit_ms = (now - _stamp_ns(msg.header)) / 1e6
        robot.link.on_arrival(msg.sequence, len(msg.data), transit_ms, now)
        if not self.active:
            return
        with self._cv:
            if robot in self._pending:
                self.stats.dropped_stale += 1
            self._pending[robot] = (msg, now)
            self._cv.notify()

    # -- serve (worker thread) ----------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._stop.is_set(), timeout=0.5)
                if self._stop.is_set():
                    return
                items = sorted(self._pending.items(), key=lambda kv: kv[1][1])[:self.cfg.max_batch]
                for robot, _ in items:
                    del self._pending[robot]
            if items:
                self._serve([(robot, msg, t) for robot, (msg, t) in items])

    def _serve(self, items) -> None:
        ready = []
        for robot, msg, arrival_ns in items:
            try:
                ready.append((robot, msg, arrival_ns, self.edge.prepare(latent_to_wire(msg))))
            except FrameRejected as err:
                self._reject(robot, err.reason, err.detail)
            except Exception:  # noqa: BLE001 - a frame must never take the node down
                self._reject(robot, 'decode_error', traceback.format_exc(limit=3))
        if not ready:
            return
        try:
            results = self.edge.infer([r[3] for r in ready])
        except Exception:  # noqa: BLE001
            for robot, *_ in ready:
                self._reject(robot, 'inference_error', traceback.format_exc(limit=3))
            return
        for (robot, msg, arrival_ns, _), res in zip(ready, results):
            stamp_ns = _stamp_ns(msg.header)
            stages = {'transit': (arrival_ns - stamp_ns) / 1e6, 'decode': res.timings_ms['decode'],
                      'heads': res.timings_ms['heads']}
            stages['total'] = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
            try:
                robot.publish(msg, res, stages, debug_image=self.cfg.publish_debug_image,
                              alpha=self.cfg.overlay_alpha)
            except Exception:  # noqa: BLE001 - keep the worker alive
                if not self.context.ok():
                    return  # SIGINT/SIGTERM shut rclpy down before close() stopped this worker
                self._reject(robot, 'publish_error', traceback.format_exc(limit=3))
                continue
            self.stats.on_served(len(msg.data), stages, self.get_clock().now().nanoseconds)

    def _reject(self, robot: RobotChannel, reason: str, detail: str) -> None:
        self.stats.on_rejected(reason)
        self.log.warning(reason, f'rejected a frame from {robot.name}: {reason}: {detail} '
                         f'({self.stats.rejected[reason]} {reason} so far)')

    # -- periodic -----------------------------------------------------------------------
    def _publish_feedback(self) -> None:
        if not self.active:
            return
        now = self.get_clock().now()
        for r in self.robots:
            r.publish_feedback(now.to_msg(), now.nanoseconds)

    def _publish_diagnostics(self) -> None:
        now = self.get_clock().now()
        values = self.stats.summary(now.nanoseconds)
        values['frames_lost_on_link'] = str(sum(r.link.lost for r in self.robots))  # sequence gaps
        hw = self.get_fully_qualified_name()
        level, text = self.health(serving=f'serving {len(self.robots)} robot(s)', rejected=self.stats.rejected,
                                  rejected_what='rejected frames')
        status = [DiagnosticStatus(level=level, name='edge_perception: pipeline', hardware_id=hw, message=text,
                                   values=[KeyValue(key=k, value=v) for k, v in values.items()])]
        status += [r.diagnostic(hw) for r in self.robots]
        self.diag_pub.publish(DiagnosticArray(header=Header(stamp=now.to_msg()), status=status))


def _stamp_ns(header: Header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def main(args=None) -> int:
    """Console entry point (``edge_perception``)."""
    return run_node(EdgePerceptionNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
