"""Latent bags: ``ladon-ros record`` over DDS, an independent reader (rosbags), offline replay.

A bag written by the package must be read by ``rosbags`` (pure Python, no ROS) with every
message byte-identical to what crossed DDS; ``ladon-ros replay`` must serve the frames
without rclpy and count bad ones under the live edge's reasons.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ros_harness import Probe, ros_domain

ROOT = Path(__file__).resolve().parents[1]
ROBOTS = ('/bag_r1', '/bag_r2')


def _frames(n: int, seed: int = 0):
    """``n`` Ladon WireFrames of synthetic scenes, from the shipped default checkpoint."""
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.world import SceneGenerator
    from ladon_ros.weights import default_checkpoint
    enc = make_camera_encoder(codec='ladon', checkpoint=default_checkpoint('ladon'))
    gen = SceneGenerator(image_size=(120, 160), seed=seed)
    return [enc.encode(gen.sample(i).image) for i in range(n)]


def _cdr(frame, sequence: int, frame_id: str = 'cam') -> bytes:
    from rclpy.serialization import serialize_message
    from std_msgs.msg import Header

    from ladon_ros.ros.conversions import wire_to_latent
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000 + sequence, 1234
    return serialize_message(wire_to_latent(frame, header, sequence))


@pytest.fixture(scope='module')
def wire_frames():
    return _frames(6)


@pytest.mark.ros
def test_ladon_ros_record_writes_a_bag_rosbags_reads_byte_identical(tmp_path, wire_frames):
    """The CLI records two robots over real DDS; rosbags gets the published CDR bytes back."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg

    from ladon_ros.msg import LatentFrame
    from ladon_ros.ros import qos
    dom = ros_domain('bags')
    bag = tmp_path / 'rec'
    env = {**os.environ, 'ROS_DOMAIN_ID': str(dom), 'ROS_LOG_DIR': str(tmp_path / 'log'), 'PYTHONUNBUFFERED': '1'}
    proc = subprocess.Popen([sys.executable, '-m', 'ladon_ros.cli', 'record', *ROBOTS, '-o', str(bag),
                             '--max-frames', '8'], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    robots = Probe('bag_test_robots', dom)
    pubs = {ns: robots.node.create_publisher(LatentFrame, f'{ns}/latent', qos.LATENT) for ns in ROBOTS}
    sent: dict[tuple[str, int], bytes] = {}
    try:
        deadline = time.monotonic() + 90
        seq = 0
        while proc.poll() is None and time.monotonic() < deadline:
            for k, ns in enumerate(ROBOTS):
                data = _cdr(wire_frames[seq % len(wire_frames)], seq, frame_id=f'cam{k}')
                sent[(ns, seq)] = data
                pubs[ns].publish(data)  # raw: exactly these bytes cross DDS
            seq += 1
            time.sleep(0.1)
        out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        robots.close()
    assert proc.returncode == 0, out
    assert 'messages' in out and (bag / 'metadata.yaml').is_file(), out

    store = get_typestore(Stores.ROS2_KILTED if hasattr(Stores, 'ROS2_KILTED') else Stores.LATEST)
    with Reader(bag) as reader:
        assert reader.message_count >= 8 and {c.topic for c in reader.connections} == {f'{ns}/latent' for ns in ROBOTS}
        conn = reader.connections[0]
        assert conn.msgtype == 'ladon_ros/msg/LatentFrame' and conn.msgdef.data  # schema stored in the bag
        main = conn.msgdef.data.split('=' * 80)[0]
        store.register({k: v for k, v in _dependency_types(conn.msgdef.data).items() if k not in store.types})
        store.register(get_types_from_msg(main, 'ladon_ros/msg/LatentFrame'))
        n = 0
        for c, _, raw in reader.messages():
            msg = store.deserialize_cdr(raw, c.msgtype)
            key = (c.topic[:-len('/latent')], msg.sequence)
            assert raw == sent[key], f'{key}: bytes differ from what was published'
            assert msg.header.frame_id == f'cam{ROBOTS.index(key[0])}'
            frame = wire_frames[msg.sequence % len(wire_frames)]
            assert bytes(msg.data) == frame.payload and list(msg.latent_shape) == list(frame.latent_shape)
            assert msg.codec == 'ladon' and msg.weights_hash == frame.weights_hash
            n += 1
        assert n == reader.message_count


def _dependency_types(schema_text: str) -> dict:
    """rosbags types of the ``MSG:`` sections of a ros2msg schema."""
    from rosbags.typesys import get_types_from_msg
    types = {}
    for part in schema_text.split('=' * 80)[1:]:
        head, _, body = part.strip('\n').partition('\n')
        name = head.removeprefix('MSG: ')
        pkg, typ = name.split('/')
        types.update(get_types_from_msg(body, f'{pkg}/msg/{typ}'))
    return types


def write_test_bag(path: Path, frames) -> dict[str, int]:
    """A bag with valid frames of two robots, three bad ones, a JPEG frame and an unrelated topic.

    Returns:
        The rejection reasons the bag must produce -> count.
    """
    from dataclasses import replace

    from ladon_ros.bag.rosbag2 import BagWriter
    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.weights import default_checkpoint
    jpeg = make_camera_encoder(codec='jpeg', quality=80, checkpoint=default_checkpoint('ladon')).encode(
        np.full((120, 160, 3), 128, np.uint8))
    corrupt = bytearray(frames[0].payload)
    corrupt[-3] ^= 0xFF
    bad = [replace(frames[0], payload=bytes(corrupt)),            # crc_mismatch
           replace(frames[1], weights_hash='0123456789abcdef'),   # weights_mismatch
           replace(frames[2], latent_shape=(4, 4))]               # bad_shape
    with BagWriter(path) as w:
        for ns in ROBOTS:
            w.add_topic(f'{ns}/latent', 'ladon_ros/msg/LatentFrame')
        w.add_topic('/bag_r1/perception/frame_stats', 'ladon_ros/msg/FrameStats')
        t = 1_700_000_000_000_000_000
        seq = 0
        for f in list(frames) + bad + [jpeg]:
            for ns in ROBOTS[:1] if f in bad or f is jpeg else ROBOTS:
                w.write(f'{ns}/latent', _cdr(f, seq), t)
                t += 50_000_000
            seq += 1
        w.write_fields('/bag_r1/perception/frame_stats', {'header': {'stamp': {'sec': 0, 'nanosec': 0}, 'frame_id': ''},
                                                          'codec': 'ladon'}, t)
    return {'crc_mismatch': 1, 'weights_mismatch': 1, 'bad_shape': 1}


def test_replay_serves_frames_and_counts_bad_ones_like_the_edge(tmp_path, wire_frames):
    from ladon_ros.bag.replay import replay
    from ladon_ros.cli.replay import build_edge
    expected = write_test_bag(tmp_path / 'bag', wire_frames)
    edge = build_edge(None, True, 'cpu')
    rows = []
    report = replay(tmp_path / 'bag', edge, out=tmp_path / 'out', pngs=4, on_row=rows.append)
    assert report.frames == 2 * len(wire_frames) + 4 and dict(report.rejected) == expected
    assert report.served == 2 * len(wire_frames) + 1 and report.robots == {'/bag_r1': 7, '/bag_r2': 6}
    lines = [json.loads(x) for x in (tmp_path / 'out' / 'results.jsonl').read_text().splitlines()]
    assert lines == rows and len(lines) == report.frames
    served = [r for r in lines if 'rejected' not in r]
    # Same results as the live edge's core for the same frame.
    direct = edge.process(wire_frames[0])
    first = next(r for r in served if r['robot'] == '/bag_r2' and r['sequence'] == 0)
    assert first['classification'][0]['class'] == direct.classification[0].class_name
    assert len(first['detections']) == len(direct.detections)
    assert abs(sum(first['segmentation']['class_fractions'].values()) - 1) < 1e-3
    assert {r['codec'] for r in served} == {'ladon', 'jpeg'} and served[0]['stamp'] == pytest.approx(1.7e9, abs=10)
    assert {r['rejected'] for r in lines if 'rejected' in r} == set(expected)
    assert len(list((tmp_path / 'out' / 'png').glob('*.png'))) == 4  # every 4th of 13 served
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    assert summary['rejected'] == expected and summary['served'] == report.served


NO_ROS = textwrap.dedent('''
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in ('rclpy', 'std_msgs', 'sensor_msgs', 'builtin_interfaces', 'cv_bridge') \\
                    or name == 'ladon_ros.msg':
                raise ImportError(name + ' is blocked in this test')
    sys.meta_path.insert(0, _Block())
    from ladon_ros.cli import main
    code = main(['replay', sys.argv[1], '--out', sys.argv[2], '--no-teacher'])
    assert not any(m.split('.')[0] == 'rclpy' for m in sys.modules)
    sys.exit(code)
''')


def test_replay_cli_runs_without_rclpy(tmp_path, wire_frames):
    write_test_bag(tmp_path / 'bag', wire_frames)
    out = subprocess.run([sys.executable, '-c', NO_ROS, str(tmp_path / 'bag'), str(tmp_path / 'out')],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert '12 served' in out.stdout and "'no_teacher': 1" in out.stdout, out.stdout  # no teacher: jpeg refused
    assert (tmp_path / 'out' / 'results.jsonl').is_file()


@pytest.mark.ros
def test_replay_publish_plays_the_stored_bytes_into_ros(tmp_path, wire_frames):
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from ladon_ros.bag.rosbag2 import read_messages
    from ladon_ros.msg import LatentFrame
    write_test_bag(tmp_path / 'bag', wire_frames)
    stored = [m.data for m in read_messages(tmp_path / 'bag', topics=['/bag_r2/latent'])]
    dom = ros_domain('bags')
    probe = Probe('bag_play_probe', dom)
    got = probe.listen(LatentFrame, '/bag_r2/latent', QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT),
                       raw=True)
    env = {**os.environ, 'ROS_DOMAIN_ID': str(dom), 'ROS_LOG_DIR': str(tmp_path / 'log')}
    proc = subprocess.Popen([sys.executable, '-m', 'ladon_ros.cli', 'replay', str(tmp_path / 'bag'), '--publish',
                             '--rate', '1'], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        probe.spin_until(lambda: proc.poll() is not None, 60)
        out = proc.communicate(timeout=30)[0]
        probe.spin_for(0.5)  # the last messages on the way
    finally:
        if proc.poll() is None:
            proc.kill()
        probe.close()
    assert proc.returncode == 0 and 'published' in out, out
    assert got == stored, f'{len(got)} of {len(stored)} received, or bytes differ'


def test_bench_bag_prints_sizes_in_the_expected_order():
    from ladon_bench.bags import format_rows, run_bag_bench
    rows, rep = run_bag_bench(frames=3, size=(120, 160), replay_frames=3)
    by = {r['name']: r for r in rows}
    assert by['ladon beta 4']['bytes_per_frame'] < by['ladon beta 0.25']['bytes_per_frame'] \
        < by['jpeg q90 (model input)']['bytes_per_frame'] < by['raw codec (model input)']['bytes_per_frame'] \
        < by['camera image rgb8']['bytes_per_frame']
    assert by['camera image rgb8']['bytes_per_frame'] == 120 * 160 * 3 and rep['frames'] >= 3
    assert 'GB per robot-hour' in format_rows(rows, 10.0, (120, 160))
