"""Small ROS processes the link benchmark runs inside its namespaces.

``python -m ladon_ros.ros.tools.bench_nodes <role> ...`` with role:

- ``probe-talker``: publishes incompressible ``sensor_msgs/Image`` frames of a given size
  at a given rate on ``probe`` (best effort, keep last 1 like ``latent``); validates a link
  without the perception nodes.
- ``probe-listener``: records every ``probe`` frame it receives.
- ``latent-player``: a robot without a camera or an encoder: replays frames encoded
  beforehand by the real camera encoder (``ladon_ros.codec.wire.save_frames``) on ``latent``
  at a given rate, stamped at publish, so many robots fit on a small machine (no torch).
  With ``--results`` it also subscribes to its own compact results and records them.
- ``hostile-player``: the same replay loop turned hostile (robustness tests): each tick sends
  one crafted frame of a kind drawn at random from ``--kinds``, or taken in turn with
  ``--order cycle`` (see ``HostilePlayer``).
- ``record``: records the edge's ``<ns>/perception/frame_stats`` and ``<ns>/link_feedback``.
- ``diagnostics``: records every edge's ``edge_perception: pipeline`` status on ``/diagnostics``
  (counters such as ``frames_served``, ``batches_run``, ``frames_batched``).

Records are JSON lines (one object per message, ``"t"`` = arrival wall time [s]) written
and flushed as they come, so the harness can read them while the run goes on and
slice them by time. Robot and edge share one host clock here.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image

from ladon_ros.ros import qos


def _stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class _JsonLines:
    """Appends one JSON object per line and flushes it at once."""

    def __init__(self, path: str):
        self.f = open(path, 'a', buffering=1)

    def write(self, obj: dict) -> None:
        self.f.write(json.dumps(obj, separators=(',', ':')) + '\n')

    def close(self) -> None:
        self.f.close()


class ProbeTalker(Node):
    """Publishes ``count`` random rgb8 images of about ``nbytes`` at ``rate_hz``."""

    def __init__(self, nbytes: int, rate_hz: float, count: int):
        super().__init__('link_probe_talker')
        side = max(1, int((nbytes / 3) ** 0.5))
        self.rng = np.random.default_rng(0)
        self.shape = (side, side, 3)
        self.count, self.sent = count, 0
        self.publish_ms: list[float] = []
        self.pub = self.create_publisher(Image, 'probe', qos.LATENT)
        self.timer = self.create_timer(1.0 / rate_hz, self._tick)

    def _tick(self) -> None:
        if self.count and self.sent >= self.count:
            self.timer.cancel()
            return
        msg = Image(height=self.shape[0], width=self.shape[1], encoding='rgb8', step=self.shape[1] * 3)
        # Random bytes: nothing on the path can compress them.
        msg.data = self.rng.integers(0, 256, size=int(np.prod(self.shape)), dtype=np.uint8).tobytes()
        msg.header.frame_id = str(self.sent)
        msg.header.stamp = self.get_clock().now().to_msg()
        t0 = time.perf_counter()
        self.pub.publish(msg)
        # publish() returning slowly would be the publisher stalling on the link.
        self.publish_ms.append((time.perf_counter() - t0) * 1e3)
        self.sent += 1
        if self.count and self.sent == self.count:
            ms = sorted(self.publish_ms)
            print(json.dumps({'published': self.sent, 'publish_ms_p50': ms[len(ms) // 2],
                              'publish_ms_max': ms[-1]}), flush=True)


class ProbeListener(Node):
    """Records each ``probe`` frame: sequence, stamp, arrival, bytes."""

    def __init__(self, out: str):
        super().__init__('link_probe_listener')
        self.out = _JsonLines(out)
        self.sub = self.create_subscription(Image, 'probe', self._on_image, qos.LATENT)

    def _on_image(self, msg: Image) -> None:
        self.out.write({'t': time.time(), 'seq': int(msg.header.frame_id), 'stamp': _stamp_s(msg.header.stamp),
                        'bytes': len(msg.data)})


class Recorder(Node):
    """Records FrameStats and LinkFeedback of one robot namespace.

    It also subscribes to the robot's compact result topics, as the robot would: the edge runs
    a head only while its results have a subscriber, so without them the benchmark would
    time an edge that runs no head at all.
    """

    def __init__(self, out: str, robot_ns: str):
        super().__init__('link_bench_recorder')
        from sensor_msgs.msg import CompressedImage

        from ladon_ros.msg import Classification, Detection2DArray, FrameStats, LinkFeedback
        self.out = _JsonLines(out)
        ns = robot_ns.rstrip('/')
        self.create_subscription(FrameStats, f'{ns}/perception/frame_stats', self._on_stats, qos.RESULTS)
        self.create_subscription(LinkFeedback, f'{ns}/link_feedback', self._on_feedback, qos.FEEDBACK)
        self.results = 0  # compact results received (every head ran for them)
        for name, typ in (('classification', Classification), ('detections', Detection2DArray),
                          ('segmentation/compressed', CompressedImage)):
            self.create_subscription(typ, f'{ns}/perception/{name}', self._on_result, qos.RESULTS)

    def _on_result(self, _msg) -> None:
        self.results += 1

    def _on_stats(self, m) -> None:
        self.out.write({
            'kind': 'stats', 't': time.time(), 'stamp': _stamp_s(m.header.stamp), 'seq': m.sequence,
            'codec': m.codec, 'rate_point': round(float(m.rate_point), 4), 'bytes': m.payload_bytes,
            'encode_ms': m.encode_ms, 'transit_ms': m.transit_ms, 'decode_ms': m.decode_ms,
            'heads_ms': m.heads_ms, 'total_ms': m.total_ms})

    def _on_feedback(self, m) -> None:
        self.out.write({
            'kind': 'feedback', 't': time.time(), 'arrival_rate_hz': m.arrival_rate_hz, 'jitter_ms': m.jitter_ms,
            'bytes_per_s': m.bytes_per_s, 'one_way_delay_ms': m.one_way_delay_ms,
            'frames_received': m.frames_received, 'frames_lost': m.frames_lost})


class DiagnosticsRecorder(Node):
    """Records the key/values of every edge's pipeline status on ``/diagnostics``."""

    def __init__(self, out: str):
        super().__init__('diagnostics_recorder')
        from diagnostic_msgs.msg import DiagnosticArray
        self.out = _JsonLines(out)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_array, qos.DIAGNOSTICS)

    def _on_array(self, m) -> None:
        for s in m.status:
            if s.name.endswith('pipeline'):
                self.out.write({'t': time.time(), 'hw': s.hardware_id, 'values': {v.key: v.value for v in s.values}})


class LatentPlayer(Node):
    """Publishes pre-encoded ``LatentFrame``s in a loop at ``rate_hz`` (a robot, minus its camera)."""

    def __init__(self, frames_file: str, rate_hz: float, count: int, results_out: str | None,
                 node_name: str = 'latent_player', results_qos: str = 'reliable', results_topic: str = 'split'):
        super().__init__(node_name)
        from ladon_ros.codec.wire import load_frames
        from ladon_ros.msg import LatentFrame
        from ladon_ros.ros.conversions import wire_to_latent
        self.frames = load_frames(frames_file)
        self.to_msg, self.count, self.sent = wire_to_latent, count, 0
        self.pub = self.create_publisher(LatentFrame, 'latent', qos.LATENT)
        self.timer = self.create_timer(1.0 / rate_hz, self._tick)
        self.out = _JsonLines(results_out) if results_out else None
        if self.out is not None:
            # What the robot's planner would subscribe to: the compact results contract.
            from sensor_msgs.msg import CompressedImage

            from ladon_ros.msg import Classification, Detection2DArray, FrameStats, PerceptionResults
            # results_qos 'best_effort': the thin-link robot (qos.RESULTS_LIVE; docs/FLEET.md).
            profile = {'reliable': qos.RESULTS, 'best_effort': qos.RESULTS_LIVE}[results_qos]
            # results_topic 'bundle': the four as one message per frame (perception/results).
            topics = {'split': (('classification', Classification), ('detections', Detection2DArray),
                                ('segmentation/compressed', CompressedImage), ('frame_stats', FrameStats)),
                      'bundle': (('results', PerceptionResults),)}[results_topic]
            for name, typ in topics:
                self.create_subscription(typ, f'perception/{name}', lambda m, n=name, t=typ: self._on_result(n, t, m),
                                         profile, raw=True)

    def _tick(self) -> None:
        if self.count and self.sent >= self.count:
            self.timer.cancel()
            return
        from std_msgs.msg import Header
        frame = self.frames[self.sent % len(self.frames)]
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id='camera_optical_frame')
        self.pub.publish(self.to_msg(frame, header, self.sent))
        self.sent += 1

    def _on_result(self, name: str, msg_type, raw: bytes) -> None:
        # raw=True: the serialized CDR bytes, i.e. what crossed the link back to the robot.
        from rclpy.serialization import deserialize_message
        msg = deserialize_message(raw, msg_type)
        stats = msg.stats if name == 'results' else msg  # perception/results carries the frame's FrameStats
        rec = {'t': time.time(), 'topic': name, 'stamp': _stamp_s(msg.header.stamp), 'bytes': len(raw),
               'served_by': getattr(stats, 'served_by', ''), 'total_ms': getattr(stats, 'total_ms', None)}
        if name in ('frame_stats', 'results'):
            # The edge's costs of the frame (the fleet benchmark's floor, batches, published count).
            rec.update(seq=stats.sequence, payload_bytes=stats.payload_bytes, encode_ms=stats.encode_ms,
                       transit_ms=stats.transit_ms, decode_ms=stats.decode_ms, heads_ms=stats.heads_ms)
        if name == 'results':  # what the one message held (every head runs for its subscriber)
            rec.update(classes=len(msg.classification.results), detections=len(msg.detections.detections),
                       png_bytes=len(msg.segmentation.data))
        self.out.write(rec)


class HostilePlayer(LatentPlayer):
    """A hostile robot: each tick publishes one crafted frame, its kind drawn at random from ``kinds``
    (``order='random'``) or taken in turn (``order='cycle'``: sent slowly, every kind reaches the
    receiver within ``len(kinds)`` frames, whatever it would sample of a fast random flood).

    Kinds (all built from genuine frames, so every field but the attacked one is plausible):

    - ``huge_image``: a genuine latent claiming a 16384 x 16384 camera image.
    - ``max_image``: a genuine latent claiming ``--max-side`` x ``--max-side`` (the edge's
      ``max_image_side``: accepted, so its label map and boxes are made at that size).
    - ``random_body``: random bytes of a genuine body's length in a well-formed bitstream with
      a valid CRC (``bitstream.pack``): it reaches the entropy decoder.
    - ``foreign_model``: a genuine latent re-labelled with weights the edge does not hold.
    """

    KINDS = ('huge_image', 'max_image', 'random_body', 'foreign_model')
    HUGE_SIDE = 16384
    FOREIGN_HASH = 'f0e1d2c3b4a59687f0e1d2c3b4a59687'
    POOL = 32

    ORDERS = ('random', 'cycle')

    def __init__(self, frames_file: str, rate_hz: float, count: int, kinds: list[str], max_side: int, seed: int,
                 order: str = 'random'):
        super().__init__(frames_file, rate_hz, count, None, node_name='hostile_player')
        unknown = set(kinds) - set(self.KINDS)
        if unknown:
            raise ValueError(f'unknown kinds {sorted(unknown)}; expected some of {self.KINDS}')
        if order not in self.ORDERS:
            raise ValueError(f'unknown order {order!r}; expected one of {self.ORDERS}')
        self.order, self.n_kinds = order, len(kinds)
        self.max_side = max_side
        self.rng = np.random.default_rng(seed)
        # Messages crafted beforehand (POOL per kind), so a tick costs this process little CPU: on
        # one test machine that CPU would be taken from the edge it floods.
        from std_msgs.msg import Header
        self.pool = [self.to_msg(self._craft(kind, i), Header(frame_id='camera_optical_frame'), 0)
                     for kind in kinds for i in range(self.POOL)]
        # Frames published so far, once a second on stdout: the rate it really reached.
        self.create_timer(1.0, lambda: print(json.dumps({'sent': self.sent, 't': time.time()}), flush=True))

    def _craft(self, kind: str, i: int):
        import dataclasses

        from ladon_ros.codec import bitstream
        frame = self.frames[i % len(self.frames)]
        if kind == 'huge_image':
            return dataclasses.replace(frame, image_size=(self.HUGE_SIDE, self.HUGE_SIDE))
        if kind == 'max_image':
            return dataclasses.replace(frame, image_size=(self.max_side, self.max_side))
        header, body = bitstream.parse(frame.payload)
        if kind == 'random_body':
            payload = bitstream.pack(frame.codec, header.shape, self.rng.bytes(len(body)), frame.weights_hash)
            return dataclasses.replace(frame, payload=payload)
        payload = bitstream.pack(frame.codec, header.shape, body, self.FOREIGN_HASH)
        return dataclasses.replace(frame, payload=payload, weights_hash=self.FOREIGN_HASH)

    def _tick(self) -> None:
        if self.count and self.sent >= self.count:
            self.timer.cancel()
            return
        if self.order == 'cycle':  # kind = sent mod kinds; the pool holds POOL frames per kind, in kind order
            kind, i = self.sent % self.n_kinds, (self.sent // self.n_kinds) % self.POOL
            msg = self.pool[kind * self.POOL + i]
        else:
            msg = self.pool[int(self.rng.integers(len(self.pool)))]
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.sequence = self.sent & 0xFFFFFFFF
        self.pub.publish(msg)
        self.sent += 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m ladon_ros.ros.tools.bench_nodes <role> ...``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='role', required=True)
    t = sub.add_parser('probe-talker')
    t.add_argument('--bytes', type=int, default=20000)
    t.add_argument('--rate-hz', type=float, default=10.0)
    t.add_argument('--count', type=int, default=0, help='0 = until stopped')
    li = sub.add_parser('probe-listener')
    li.add_argument('--out', required=True)
    lp = sub.add_parser('latent-player')
    lp.add_argument('--frames', required=True, help='file written by ladon_ros.codec.wire.save_frames')
    lp.add_argument('--rate-hz', type=float, default=10.0)
    lp.add_argument('--count', type=int, default=0, help='0 = until stopped')
    lp.add_argument('--results', default=None, help='JSON lines of the compact results received back')
    lp.add_argument('--results-qos', choices=('reliable', 'best_effort'), default='reliable',
                    help="reliability of the results subscriptions (best_effort: the thin-link robot's choice)")
    lp.add_argument('--results-topic', choices=('split', 'bundle'), default='split',
                    help="the four compact result topics, or perception/results (bundle: one message per frame, "
                         "the thin-link robot's choice)")
    hp = sub.add_parser('hostile-player')
    hp.add_argument('--frames', required=True, help='genuine frames (save_frames) the crafted ones start from')
    hp.add_argument('--rate-hz', type=float, default=200.0)
    hp.add_argument('--count', type=int, default=0, help='0 = until stopped')
    hp.add_argument('--kinds', default=','.join(HostilePlayer.KINDS), help='comma-separated HostilePlayer.KINDS')
    hp.add_argument('--order', choices=HostilePlayer.ORDERS, default='random',
                    help='kind of each frame: drawn at random, or the kinds in turn')
    hp.add_argument('--max-side', type=int, default=4096, help='image side claimed by max_image frames')
    hp.add_argument('--seed', type=int, default=0)
    r = sub.add_parser('record')
    r.add_argument('--out', required=True)
    r.add_argument('--robot-ns', default='')
    d = sub.add_parser('diagnostics')
    d.add_argument('--out', required=True)
    args, ros_args = p.parse_known_args(argv if argv is not None else sys.argv[1:])
    rclpy.init(args=['link_bench', *ros_args])
    node = None
    try:
        if args.role == 'probe-talker':
            node = ProbeTalker(args.bytes, args.rate_hz, args.count)
        elif args.role == 'probe-listener':
            node = ProbeListener(args.out)
        elif args.role == 'latent-player':
            node = LatentPlayer(args.frames, args.rate_hz, args.count, args.results, results_qos=args.results_qos,
                                results_topic=args.results_topic)
        elif args.role == 'hostile-player':
            node = HostilePlayer(args.frames, args.rate_hz, args.count, args.kinds.split(','), args.max_side,
                                 args.seed, args.order)
        elif args.role == 'diagnostics':
            node = DiagnosticsRecorder(args.out)
        else:
            node = Recorder(args.out, args.robot_ns)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            out = getattr(node, 'out', None)
            if out is not None:
                out.close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
