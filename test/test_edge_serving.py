"""ladon_ros.edge.serving: the edge node's serve loop and quarantine rules, without rclpy."""
from __future__ import annotations

import dataclasses

import pytest

from ladon_ros.camera import make_camera_encoder
from ladon_ros.world import SceneGenerator
from ladon_ros.edge import EdgePerception
from ladon_ros.edge.serving import QUARANTINE_MIN_REFUSED, Arrival, BatchServer, RobotHealth
from ladon_ros.fleet.queue import FairFrameQueue
from ladon_ros.weights import default_checkpoint, shipped_camera_bundle

ALL = ('classification', 'detection', 'segmentation')


@pytest.fixture(scope='module')
def setup():
    edge = EdgePerception.from_checkpoints([default_checkpoint('ladon')], backend='onnx', decode_timeout_ms=1e9)
    cam = make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=shipped_camera_bundle())
    gen = SceneGenerator(image_size=(128, 128), seed=5)
    frames = [cam.encode(gen.sample(i).image) for i in range(3)]
    return edge, frames


class Recorder:
    """The node's side of BatchServer: what each robot wants, what got published or refused."""

    def __init__(self, wants: dict):
        self.want, self.published, self.rejected = wants, [], []

    def wants(self, robot):
        return self.want[robot]

    def publish(self, robot, arrival, results, tasks):
        self.published.append((robot, arrival.sequence, results, tasks))
        return True

    def reject(self, robot, reason, detail):
        self.rejected.append((robot, reason))


def _server(edge, rec):
    queue = FairFrameQueue()
    return queue, BatchServer(edge, queue, rec.wants, rec.publish, rec.reject)


def test_one_batch_serves_each_robot_the_heads_it_wants_and_refuses_garbage(setup):
    edge, frames = setup
    rec = Recorder({'all': ALL, 'cls': ('classification',), 'bad': ALL})
    queue, server = _server(edge, rec)
    garbage = dataclasses.replace(frames[2], payload=frames[2].payload[:-3])
    for i, (robot, frame) in enumerate((('all', frames[0]), ('cls', frames[1]), ('bad', garbage))):
        queue.put(robot, Arrival(frame, 0, 0, i))
    assert server.serve(queue.take(8, timeout=0)) == 2
    assert rec.rejected == [('bad', 'truncated')]
    got = {robot: (res, tasks) for robot, _, res, tasks in rec.published}
    assert got['all'][1] == ALL and got['all'][0].detections and got['all'][0].segmentation.any()
    cls_only = got['cls'][0]
    assert cls_only.classification and not cls_only.detections and not cls_only.segmentation.any()
    assert 'detection' not in cls_only.timings_ms
    assert server.batches == 1 and server.frames == 2
    assert server.skipped == {'detection': 1, 'segmentation': 1}
    # Each robot pays for what it asked: detection is most of a frame's cost.
    assert queue.account('cls').edge_time_s < queue.account('all').edge_time_s
    assert queue.account('bad').edge_time_s > 0  # garbage costs edge time too


def test_a_head_starts_running_when_a_subscriber_appears(setup):
    edge, frames = setup
    rec = Recorder({'r': ()})  # nobody listens to any result of 'r' yet
    queue, server = _server(edge, rec)
    queue.put('r', Arrival(frames[0], 0, 0, 0))
    server.serve(queue.take(8, timeout=0))
    first = rec.published[-1][2]
    assert not first.classification and not first.detections and first.timings_ms['heads'] == 0.0
    assert server.skipped == {t: 1 for t in ALL}
    rec.want['r'] = ('detection',)  # a detections subscriber matched
    queue.put('r', Arrival(frames[0], 0, 0, 1))
    server.serve(queue.take(8, timeout=0))
    second = rec.published[-1][2]
    assert second.detections and not second.classification and rec.published[-1][3] == ('detection',)
    assert server.skipped == {'classification': 2, 'detection': 1, 'segmentation': 2}


def test_quarantine_rules():
    h = RobotHealth()
    h.received_since_served, h.consecutive_rejected = 20, QUARANTINE_MIN_REFUSED - 1
    assert not h.due(20)  # too few checked frames refused
    h.consecutive_rejected += 1
    assert h.due(20) and not h.due(21) and not h.due(0)  # 0 = never
    assert h.pause(100.0, 5.0) == 5.0 and h.quarantined_until == 105.0 and not h.due(20)
    h.resume()
    assert h.on_probation and h.quarantined_until is None and not h.due(20)
    h.consecutive_rejected = 1  # on probation: the first refused frame is enough
    assert h.due(20)
    for want in (10.0, 20.0, 40.0, 80.0, 80.0):  # doubling, at most 16x
        h.quarantined_until = None
        assert h.pause(0.0, 5.0) == want
    h.served()
    assert not h.on_probation and h.consecutive_rejected == h.received_since_served == 0
