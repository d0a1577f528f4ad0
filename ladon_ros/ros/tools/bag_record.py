"""``ladon-ros record``: the latents (and optionally the results) of robots, to a bag.

A plain rclpy node subscribes to ``<robot>/latent`` of each robot (or of every robot it
finds in the graph) with ``raw=True``, so the CDR bytes that crossed DDS are stored
unchanged (``ladon_ros.bag.rosbag2.BagWriter``), stamped with the receive time as
``ros2 bag record`` does. Subscriptions are best effort with a deep queue for streams (they
match any publisher and a slow disk does not stall the robots) and transient local for the
latched ``label_info``.
"""
from __future__ import annotations

import importlib
import time

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from ladon_ros.bag.rosbag2 import LATENT_TYPE, BagWriter, qos_profile
from ladon_ros.ros import qos

# Optional per-robot groups: topic (relative to the robot) -> type.
GROUPS = {
    'results': {'perception/classification': 'ladon_ros/msg/Classification',
                'perception/detections': 'ladon_ros/msg/Detection2DArray',
                'perception/segmentation/compressed': 'sensor_msgs/msg/CompressedImage'},
    'frame_stats': {'perception/frame_stats': 'ladon_ros/msg/FrameStats'},
}
LABEL_INFO = {f'/label_info/{t}': 'ladon_ros/msg/LabelInfo' for t in ('classification', 'detection', 'segmentation')}
STREAM = QoSProfile(reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST, depth=100,
                    durability=DurabilityPolicy.VOLATILE)
DISCOVERY_PERIOD_S = 1.0
PROGRESS_PERIOD_S = 5.0


def message_class(msgtype: str):
    """'pkg/msg/Type' -> the generated Python class."""
    pkg, _, typ = msgtype.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), typ)


def offered(topic_type: str, latched: bool) -> list[dict]:
    """The QoS our publishers offer on such a topic (docs/CONTRACTS.md), as rosbag2 stores it."""
    if latched:
        return [qos_profile(reliable=True, transient_local=True, depth=qos.LATCHED.depth)]
    if topic_type == LATENT_TYPE:
        return [qos_profile(reliable=False, depth=qos.LATENT.depth)]
    return [qos_profile(reliable=True, depth=qos.RESULTS.depth)]


class BagRecorder(Node):
    """Records robots' topics into ``writer`` until stopped or a limit is reached.

    Args:
        writer: An open ``BagWriter``.
        robots: Robot namespaces ('/robot1'); empty = every robot publishing a latent.
        groups: Keys of ``GROUPS`` to record too.
        label_info: Also record the edge's latched label maps.
        max_messages: Stop after this many latent messages (0 = no limit).
        duration_s: Stop after this many seconds (0 = no limit).
    """

    def __init__(self, writer: BagWriter, robots: list[str], *, groups=(), label_info: bool = False,
                 max_messages: int = 0, duration_s: float = 0.0, **kwargs):
        super().__init__('ladon_bag_recorder', **kwargs)
        self.writer, self.groups = writer, tuple(groups)
        self.max_messages, self.duration_s = max_messages, duration_s
        self.latents = 0
        self.finished = False  # run_node ends the process when set
        self._start = time.monotonic()
        self._subs = {}
        self._discover = not robots
        for ns in robots:
            self._add_robot(ns)
        if label_info:
            for topic, typ in LABEL_INFO.items():
                self._subscribe(topic, typ, latched=True)
        if self._discover:
            self.create_timer(DISCOVERY_PERIOD_S, self._scan)
            self._scan()
        self.create_timer(PROGRESS_PERIOD_S, self._progress)
        self.create_timer(0.2, self._check_limits)
        self.get_logger().info(f'recording {"every robot found" if self._discover else robots} '
                               f'to {writer.path}; Ctrl-C to stop')

    def _add_robot(self, ns: str) -> None:
        ns = '/' + ns.strip('/')
        self._subscribe(f'{ns}/latent', LATENT_TYPE)
        for group in self.groups:
            for rel, typ in GROUPS[group].items():
                self._subscribe(f'{ns}/{rel}', typ)

    def _subscribe(self, topic: str, msgtype: str, latched: bool = False) -> None:
        if topic in self._subs:
            return
        info = self.get_publishers_info_by_topic(topic)
        type_hash = str(getattr(info[0], 'topic_type_hash', '')) if info else ''
        self.writer.add_topic(topic, msgtype, qos=offered(msgtype, latched), type_hash=type_hash)
        profile = qos.LATCHED if latched else STREAM
        self._subs[topic] = self.create_subscription(
            message_class(msgtype), topic, lambda data, t=topic: self._on_message(t, data), profile, raw=True)

    def _scan(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic.endswith('/latent') and LATENT_TYPE in types and topic not in self._subs:
                self.get_logger().info(f'found robot {topic[:-len("/latent")] or "/"}')
                self._add_robot(topic[:-len('/latent')])

    def _on_message(self, topic: str, data: bytes) -> None:
        if self.finished:
            return
        self.writer.write(topic, data, self.get_clock().now().nanoseconds)
        if topic.endswith('/latent'):
            self.latents += 1

    def _check_limits(self) -> None:
        if (self.max_messages and self.latents >= self.max_messages) or \
                (self.duration_s and time.monotonic() - self._start >= self.duration_s):
            self.finished = True

    def _progress(self) -> None:
        self.get_logger().info(f'{self.latents} latent frames recorded')

    def close(self) -> None:
        """Finishes the bag (``metadata.yaml``)."""
        self.finished = True
        self.writer.close()
