"""Every topic the four nodes use, with its type, QoS profile and direction: the one table
``docs/topics.md`` is generated from (``render_markdown``).

The QoS columns are read from the profiles in ``ladon_ros.ros.qos`` themselves, so the doc
cannot disagree with what the nodes create; ``test/test_topics_doc.py`` checks that every
topic name the node modules pass to ``create_publisher`` / ``create_subscription`` is in
this table and the other way round.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One topic.

    Attributes:
        name: Relative to the robot's namespace unless it starts with '/'.
        type: Message type.
        qos: Name of the profile in ``ladon_ros.ros.qos``.
        writer: Node(s) that publish it.
        readers: Who subscribes.
        why: Why this QoS / what it is for.
    """

    name: str
    type: str
    qos: str
    writer: str
    readers: str
    why: str


TOPICS = (
    Topic('image_raw', 'sensor_msgs/Image', 'SENSOR', 'image_source (or any camera driver)',
          'camera_encoder, rate_adapter', 'REP-2003 sensor data: the encoder always works on the newest image'),
    Topic('image_gated', 'sensor_msgs/Image', 'SENSOR', 'rate_adapter', 'camera_encoder (remapped to image_raw)',
          'the camera at the rate the link can carry'),
    Topic('latent', 'ladon_ros/LatentFrame', 'LATENT', 'camera_encoder', 'edge_perception',
          'keep-latest over the slow link: old frames are dropped, never queued'),
    Topic('perception/classification', 'ladon_ros/Classification', 'RESULTS', 'edge_perception', 'the robot',
          'compact result; its head runs only while subscribed'),
    Topic('perception/detections', 'ladon_ros/Detection2DArray', 'RESULTS', 'edge_perception', 'the robot',
          'compact result; its head runs only while subscribed'),
    Topic('perception/segmentation/compressed', 'sensor_msgs/CompressedImage', 'RESULTS', 'edge_perception',
          'the robot', 'label ids as lossless PNG (image_transport compressed naming)'),
    Topic('perception/segmentation', 'sensor_msgs/Image', 'RESULTS', 'edge_perception', 'base-station viewers',
          'mono8 label ids at the camera size; rendered only while subscribed'),
    Topic('perception/segmentation_overlay', 'sensor_msgs/Image', 'RESULTS', 'edge_perception',
          'base-station viewers (RViz)', 'class colours; rendered only while subscribed'),
    Topic('perception/debug_image', 'sensor_msgs/Image', 'RESULTS', 'edge_perception', 'base-station viewers (RViz)',
          'boxes, labels and mask; rendered only while subscribed'),
    Topic('perception/frame_stats', 'ladon_ros/FrameStats', 'RESULTS', 'edge_perception', 'the robot, rate_adapter',
          'bytes and stage latencies of each served frame'),
    Topic('perception/results', 'ladon_ros/PerceptionResults', 'RESULTS', 'edge_perception',
          'a robot on a thin link', 'the four compact results as one message (one datagram per frame); '
          'made only while subscribed, and then all three heads run'),
    Topic('link_feedback', 'ladon_ros/LinkFeedback', 'FEEDBACK', 'edge_perception', 'rate_adapter',
          'published only while a rate adapter listens; only the newest matters'),
    *(Topic(f'label_info/{task}', 'ladon_ros/LabelInfo', 'LATCHED', 'edge_perception', 'anyone',
            'latched: a late subscriber still gets the class names')
      for task in ('classification', 'detection', 'segmentation')),
    Topic('/diagnostics', 'diagnostic_msgs/DiagnosticArray', 'DIAGNOSTICS', 'every node', 'diagnostic_aggregator',
          'diagnostic_aggregator convention, 1 Hz'),
    Topic('/ladon/edges', 'ladon_ros/EdgeHeartbeat', 'heartbeat_qos()', 'edge_perception', 'edge_perception',
          "the fleet's only shared state; liveliness lease edge_timeout_s (ladon_ros.ros.fleet_view)"),
)


def describe_qos(name: str) -> str:
    """'reliable, keep last 10, volatile' for a profile of ``ladon_ros.ros.qos`` (read from it)."""
    from ladon_ros.ros import qos
    if name == 'heartbeat_qos()':
        from ladon_ros.ros.fleet_view import heartbeat_qos
        p = heartbeat_qos(1.0)
    else:
        p = getattr(qos, name)
    parts = [p.reliability.name.lower().replace('_', ' '), f'keep last {p.depth}',
             p.durability.name.lower().replace('_', ' ')]
    if p.liveliness.name != 'SYSTEM_DEFAULT':
        parts.append(f'liveliness {p.liveliness.name.lower()}')
    return ', '.join(parts)


def render_markdown() -> str:
    """``docs/topics.md``."""
    lines = ['# Topics', '',
             'Generated from `ladon_ros/ros/topics.py` (`render_markdown`), the QoS column from the profiles '
             'in `ladon_ros/ros/qos.py`; `test/test_topics_doc.py` fails when this file is stale or a node '
             'uses a topic the table lacks. Names without a leading `/` resolve in the robot\'s namespace '
             '(`/robot1/latent`); the edge serves several robots and publishes in each one\'s namespace.', '',
             '| topic | type | QoS (`qos.py`) | writer | readers | why |', '|---|---|---|---|---|---|']
    for t in TOPICS:
        lines.append(f'| `{t.name}` | {t.type} | {describe_qos(t.qos)} (`{t.qos}`) | {t.writer} | {t.readers} '
                     f'| {t.why} |')
    return '\n'.join(lines) + '\n'
