"""``ladon-ros replay BAG --publish``: plays a bag into ROS topics, as ``ros2 bag play`` does.

Every stored message is published unchanged (its CDR bytes) on its topic, with the offered
QoS stored in the bag, at the recorded pace times ``rate``.
"""
from __future__ import annotations

import signal
import time

import rclpy
import yaml
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from ladon_ros.bag.rosbag2 import mcap_files, read_messages
from ladon_ros.ros.tools.bag_record import message_class


def _qos(profiles: list[dict]) -> QoSProfile:
    """The first stored offered QoS as a publisher profile (keep last 10, best effort, if none)."""
    p = profiles[0] if profiles else {}
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=max(int(p.get('depth', 10)), 1),
        reliability=ReliabilityPolicy.RELIABLE if p.get('reliability') == 'reliable' else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if p.get('durability') == 'transient_local'
        else DurabilityPolicy.VOLATILE)


def _stored_qos(bag) -> dict[str, list[dict]]:
    meta = next(iter(mcap_files(bag))).parent / 'metadata.yaml'
    if not meta.is_file():
        return {}
    info = yaml.safe_load(meta.read_text())['rosbag2_bagfile_information']
    out = {}
    for t in info.get('topics_with_message_count', []):
        q = t['topic_metadata'].get('offered_qos_profiles') or []
        out[t['topic_metadata']['name']] = yaml.safe_load(q) if isinstance(q, str) else q
    return out


def play(bag, *, rate: float = 1.0, wait_s: float = 1.0, log=print) -> int:
    """Publishes the bag's messages; returns the number published. Ctrl-C stops it cleanly.

    Args:
        rate: Pace relative to the recording (0 = as fast as possible).
        wait_s: Seconds to wait after creating the publishers, so subscribers can match.
    """
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    rclpy.init(args=['ladon_bag_player'], signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node('ladon_bag_player')
    stored = _stored_qos(bag)
    pubs, sent = {}, 0
    try:
        for m in read_messages(bag):
            if m.topic not in pubs:
                pubs[m.topic] = node.create_publisher(message_class(m.msgtype), m.topic, _qos(stored.get(m.topic, [])))
        log(f'playing {sum(1 for _ in read_messages(bag))} messages on {sorted(pubs)}')
        time.sleep(wait_s)
        start_wall = time.monotonic()
        start_log = None
        for m in read_messages(bag):
            if stop:
                break
            start_log = m.log_time_ns if start_log is None else start_log
            if rate > 0:
                delay = (m.log_time_ns - start_log) / 1e9 / rate - (time.monotonic() - start_wall)
                while delay > 0 and not stop:
                    time.sleep(min(delay, 0.1))
                    delay -= 0.1
            pubs[m.topic].publish(m.data)  # the stored CDR bytes
            sent += 1
    finally:
        node.destroy_node()
        rclpy.shutdown()
    log(f'published {sent} messages' + (' (stopped)' if stop else ''))
    return sent
