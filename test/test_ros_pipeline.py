"""The nodes as separate processes over real DDS: two robots -> one edge, plus bad frames.

One set of processes serves the whole module (starting torch in five processes is the
expensive part): robots ``/robot1`` and ``/robot2`` each run image_source + camera_encoder,
one edge_perception serves both plus ``/intruder``, where this test publishes malformed
and foreign latent frames followed by valid ones.
"""
from __future__ import annotations

import contextlib
import os
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ladon_ros.msg import (Classification, Detection2DArray, FrameStats, LabelInfo, LatentFrame, LinkFeedback,
                           PerceptionResults)
from ladon_ros.ros import qos
from ladon_ros.ros.conversions import LABELS_PNG_FORMAT, wire_to_latent
from ros_harness import NodeProcesses, Probe, environment, ros_domain

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)

# 20..24 by process id: two checkouts running this suite at once (a shared machine) rarely
# share a domain, where a fixed id would mix their robots' frames.
DOMAIN = ros_domain('ros_pipeline')
ROBOTS = ('/robot1', '/robot2')
INTRUDER = '/intruder'
FRAMES = 40  # per robot source, at 4 Hz: the stream outlasts the checks


class Recorder(Probe):
    """A test-side node that records every message of the topics it is asked about."""

    def __init__(self):
        super().__init__('pipeline_probe', DOMAIN)
        self.msgs: dict[str, list] = {}

    def listen(self, msg_type, topic: str, profile=qos.RESULTS) -> list:
        self.msgs[topic] = super().listen(msg_type, topic, profile)
        return self.msgs[topic]


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('pipeline')
    env = {'LADON_ROS_CACHE': str(tmp / 'cache'), 'OMP_NUM_THREADS': '1', 'ROS_DOMAIN_ID': str(DOMAIN)}
    env_scope = contextlib.ExitStack()
    env_scope.enter_context(environment(env))
    procs = NodeProcesses(DOMAIN, tmp / 'logs', env)
    rec = Recorder()
    try:
        for ns in ROBOTS + (INTRUDER,):
            rec.listen(Classification, f'{ns}/perception/classification')
            rec.listen(Detection2DArray, f'{ns}/perception/detections')
            rec.listen(Image, f'{ns}/perception/segmentation')
            rec.listen(FrameStats, f'{ns}/perception/frame_stats')
            rec.listen(LinkFeedback, f'{ns}/link_feedback', qos.FEEDBACK)
        # The thin link's one message per frame, for one robot (as a thin robot subscribes it).
        rec.listen(PerceptionResults, f'{ROBOTS[0]}/perception/results', qos.RESULTS_LIVE)
        deep = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)  # miss no source frame
        for ns in ROBOTS:
            rec.listen(Image, f'{ns}/image_raw', deep)
        rec.listen(DiagnosticArray, '/diagnostics', qos.DIAGNOSTICS)
        from ladon_ros.weights import default_checkpoint
        default_checkpoint('ladon')  # a random fallback is written once here, not raced by 3 processes
        # A static list (no discovery): the edge also subscribes for a robot that never comes.
        procs.start('edge_perception', params={'discover_robots': False,
                                               'robot_namespaces': list(ROBOTS) + [INTRUDER],
                                               'serve_image_codecs': False})
        # The sources send a bounded stream: start them once the edge listens (the ONNX
        # camera side is up in about a second, the edge's model takes longer).
        assert rec.spin_until(lambda: all(rec.node.count_subscribers(f'{ns}/latent') >= 1 for ns in ROBOTS), 180), \
            procs.log('edge_perception')[-3000:]
        for i, ns in enumerate(ROBOTS):
            procs.start('image_source', label=f'source{i + 1}', namespace=ns,
                        params={'max_frames': FRAMES, 'rate_hz': 4.0, 'seed': i, 'frame_id': f'cam{i + 1}',
                                'wait_for_subscribers': 2})  # encoder + this probe
            procs.start('camera_encoder', label=f'encoder{i + 1}', namespace=ns)
        yield procs, rec
    finally:
        rec.close()
        codes = procs.stop()
        env_scope.close()
    assert set(codes.values()) <= {0}, f'unclean exit codes {codes}:\n' + procs.log('edge_perception')[-2000:]


def _stamp(h: Header) -> tuple[int, int]:
    return h.stamp.sec, h.stamp.nanosec


def test_results_of_every_task_match_each_robots_source_frames(pipeline):
    procs, rec = pipeline
    m = rec.msgs
    done = rec.spin_until(lambda: all(len(m[f'{ns}/perception/{t}']) >= 4 for ns in ROBOTS
                                      for t in ('classification', 'detections', 'segmentation', 'frame_stats')),
                          timeout=90)
    logs = {k: procs.log(k)[-1500:] for k in procs.procs}
    assert done, f'results missing: { {k: len(v) for k, v in m.items()} }\n{logs}'
    for i, ns in enumerate(ROBOTS):
        sources = {_stamp(s.header): s for s in m[f'{ns}/image_raw']}
        others = {_stamp(s.header) for s in m[f'{ROBOTS[1 - i]}/image_raw']}
        assert sources, f'no {ns}/image_raw seen'
        # Frames published before this probe discovered the source cannot be checked.
        first = min(sources)
        for task in ('classification', 'detections', 'segmentation', 'frame_stats'):
            checked = [r for r in m[f'{ns}/perception/{task}'] if _stamp(r.header) >= first]
            assert len(checked) >= 2, f'too few {task} results after the first seen source frame'
            for r in m[f'{ns}/perception/{task}']:
                assert r.header.frame_id == f'cam{i + 1}'
                assert _stamp(r.header) not in others
            for r in checked:
                assert _stamp(r.header) in sources, f'{task} result stamp not from a {ns} source frame'
        matched = [r for r in m[f'{ns}/perception/segmentation'] if _stamp(r.header) in sources]
        assert matched, 'no segmentation matched a source frame'
        for seg in matched:
            src = sources[_stamp(seg.header)]
            assert (seg.width, seg.height, seg.encoding) == (src.width, src.height, 'mono8')
        cls = m[f'{ns}/perception/classification'][-1]
        assert 1 <= len(cls.results) <= 5 and all(0 <= h.score <= 1 for h in cls.results)
        stats = m[f'{ns}/perception/frame_stats'][-1]
        assert stats.codec == 'ladon' and stats.payload_bytes > 30 and stats.total_ms >= stats.heads_ms
        for d in m[f'{ns}/perception/detections'][-1].detections:
            assert d.id.split('-')[0].isdigit() and d.results[0].class_id


def test_perception_results_hold_the_split_topics_of_the_same_frame(pipeline):
    procs, rec = pipeline
    m, ns = rec.msgs, ROBOTS[0]
    bundles = m[f'{ns}/perception/results']

    def paired():
        split = {_stamp(s.header) for s in m[f'{ns}/perception/frame_stats']}
        return [b for b in bundles if _stamp(b.header) in split]
    assert rec.spin_until(lambda: len(paired()) >= 3, timeout=90), \
        f'{len(bundles)} perception/results\n' + procs.log('edge_perception')[-1500:]
    by_stamp = {t: {_stamp(r.header): r for r in m[f'{ns}/perception/{t}']}
                for t in ('classification', 'detections', 'frame_stats')}
    for b in paired():
        key = _stamp(b.header)
        assert b.header.frame_id == 'cam1'
        for part in (b.classification, b.detections, b.segmentation, b.stats):
            assert _stamp(part.header) == key and part.header.frame_id == 'cam1'
        assert b.stats == by_stamp['frame_stats'][key]
        if key in by_stamp['classification']:
            assert b.classification == by_stamp['classification'][key]
        if key in by_stamp['detections']:
            assert b.detections == by_stamp['detections'][key]
        # The label map travels as PNG, as on perception/segmentation/compressed.
        assert b.segmentation.format == LABELS_PNG_FORMAT and bytes(b.segmentation.data[1:4]) == b'PNG'


def test_label_maps_are_latched_and_link_feedback_flows(pipeline):
    procs, rec = pipeline
    late = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    maps = {t: rec.listen(LabelInfo, f'/label_info/{t}', late) for t in ('classification', 'detection', 'segmentation')}
    fb = rec.msgs[f'{ROBOTS[0]}/link_feedback']
    assert rec.spin_until(lambda: all(maps.values()) and any(f.frames_received > 0 for f in fb), timeout=20)
    assert maps['segmentation'][0].class_map[0].class_name == 'background'
    assert len(maps['detection'][0].class_map) >= 2
    f = [f for f in fb if f.frames_received > 0][-1]
    assert f.arrival_rate_hz > 0 and f.bytes_per_s > 0


def _bad_frames(good: LatentFrame) -> dict[str, LatentFrame]:
    def variant(**fields) -> LatentFrame:
        msg = LatentFrame()
        for name in LatentFrame.get_fields_and_field_types():
            setattr(msg, name, getattr(good, name))
        for k, v in fields.items():
            setattr(msg, k, v)
        return msg
    data = bytes(good.data)
    return {
        'truncated': variant(data=data[:20]),
        'bad_shape': variant(latent_shape=[12, 100000, 100000]),
        'unknown_codec': variant(codec='h264'),
        'weights_mismatch': variant(weights_hash='0123456789abcdef'),
        'crc_mismatch': variant(data=data[:40] + bytes([data[40] ^ 0xFF]) + data[41:]),
        'bad_field': variant(rate_point=float('nan')),
        'bad_magic': variant(data=bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8))),
    }


def test_malformed_and_foreign_frames_are_counted_and_valid_ones_still_served(pipeline):
    procs, rec = pipeline
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.weights import default_checkpoint
    enc = make_camera_encoder(codec='ladon', checkpoint=default_checkpoint('ladon'))
    rgb = np.random.default_rng(2).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    good = wire_to_latent(enc.encode(rgb), Header(frame_id='intruder_cam'), 0)
    pub = rec.node.create_publisher(LatentFrame, f'{INTRUDER}/latent', qos.LATENT)
    bad = _bad_frames(good)
    diags = rec.msgs['/diagnostics']

    def counts() -> dict[str, int]:
        for arr in reversed(diags):
            for s in arr.status:
                if s.name == 'edge_perception: pipeline':
                    return {kv.key[len('rejected.'):]: int(kv.value) for kv in s.values
                            if kv.key.startswith('rejected.')}
        return {}

    # Best-effort keep-latest topic: repeat the corpus until every reason was counted.
    end = time.monotonic() + 60
    while set(counts()) < set(bad) and time.monotonic() < end:
        for msg in bad.values():
            pub.publish(msg)
            rec.spin_until(lambda: False, 0.25)
    assert set(bad) <= set(counts()), f'reasons counted: {counts()}\n{procs.log("edge_perception")[-2000:]}'
    assert procs.alive('edge_perception')
    assert 'rejected a frame from /intruder: weights_mismatch' in procs.log('edge_perception')

    # After the storm, valid frames (new stamps) from the same namespace are served.
    served = rec.msgs[f'{INTRUDER}/perception/classification']
    sent = set()
    for seq in range(1, 40):
        h = Header(frame_id='intruder_cam', stamp=rec.node.get_clock().now().to_msg())
        msg = wire_to_latent(enc.encode(rgb), h, seq)
        sent.add(_stamp(h))
        pub.publish(msg)
        if rec.spin_until(lambda: any(_stamp(r.header) in sent for r in served), 0.5):
            break
    assert any(_stamp(r.header) in sent for r in served), 'no valid frame served after the bad ones'
    print(f'rejected by reason: {counts()}')
