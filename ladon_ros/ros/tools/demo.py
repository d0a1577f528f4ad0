"""The embedded default: source -> camera encoder -> edge as three processes over real DDS.

This process only watches: it subscribes to the source images and every result topic,
joins them by capture stamp, prints one line per served frame (bytes on the wire, stage
latencies, what each head found), writes a few annotated PNGs and a summary.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from ladon_ros.msg import Classification, Detection2DArray, FrameStats, LabelInfo
from ladon_ros.results import Detection, FrameResults, Hypothesis
from ladon_ros.ros import qos
from ladon_ros.ros.conversions import image_to_rgb
from ladon_ros.ros.processes import NodeProcesses
from ladon_ros.visualize import annotate

PARTS = ('classification', 'detections', 'segmentation', 'frame_stats')
BANNER = '!' * 78


@dataclass
class Joined:
    """Everything received for one camera frame (keyed by its capture stamp)."""

    image: Image | None = None
    parts: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return all(p in self.parts for p in PARTS)


class Watcher:
    """Test-side subscriber that joins source images and results by stamp."""

    def __init__(self, node):
        self.node = node
        self.frames: dict[tuple[int, int], Joined] = {}
        self.done: list[tuple[tuple[int, int], Joined]] = []
        self.det_index: dict[str, int] = {}
        self.seg_names: dict[int, str] = {}
        self.diag = None
        self.raw_bytes = 0  # size of one source frame as raw RGB8
        deep_be = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
        node.create_subscription(Image, 'image_raw', self._on_image, deep_be)
        deep = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        for name, typ in (('classification', Classification), ('detections', Detection2DArray),
                          ('segmentation', Image), ('frame_stats', FrameStats)):
            node.create_subscription(typ, f'perception/{name}', lambda m, n=name: self._on_part(n, m), deep)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(LabelInfo, 'label_info/detection', self._on_labels, latched)
        node.create_subscription(LabelInfo, 'label_info/segmentation', self._on_seg_labels, latched)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, qos.DIAGNOSTICS)

    def _key(self, header) -> tuple[int, int]:
        return header.stamp.sec, header.stamp.nanosec

    def _on_image(self, msg: Image) -> None:
        self.frames.setdefault(self._key(msg.header), Joined()).image = msg

    def _on_part(self, name: str, msg) -> None:
        key = self._key(msg.header)
        j = self.frames.setdefault(key, Joined())
        j.parts[name] = msg
        if j.complete:
            self.done.append((key, self.frames.pop(key)))

    def _on_labels(self, msg: LabelInfo) -> None:
        self.det_index = {c.class_name: c.class_id for c in msg.class_map}

    def _on_seg_labels(self, msg: LabelInfo) -> None:
        self.seg_names = {c.class_id: c.class_name for c in msg.class_map}

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for s in msg.status:
            if s.name == 'edge_perception: pipeline':
                self.diag = {kv.key: kv.value for kv in s.values}

    def to_results(self, j: Joined) -> FrameResults:
        """Rebuilds core results from the messages (for drawing)."""
        cls = [Hypothesis(0, h.class_id, h.score) for h in j.parts['classification'].results]
        dets = [Detection(Hypothesis(self.det_index.get(d.results[0].class_id, 1), d.results[0].class_id,
                                     d.results[0].score), d.bbox.center_x, d.bbox.center_y, d.bbox.size_x,
                          d.bbox.size_y) for d in j.parts['detections'].detections]
        seg = j.parts['segmentation']
        labels = np.frombuffer(seg.data, np.uint8).reshape(seg.height, seg.step)[:, :seg.width]
        return FrameResults(cls, dets, labels.copy())


def describe(j: Joined, n: int, seg_names: dict[int, str]) -> str:
    """One summary line for a served frame."""
    s = j.parts['frame_stats']
    top = j.parts['classification'].results[:1]
    scene = f'{top[0].class_id} {top[0].score:.2f}' if top else '-'
    dets = j.parts['detections'].detections
    objs = ', '.join(f'{d.results[0].class_id} {d.results[0].score:.2f}' for d in dets[:4])
    objs += ' ...' if len(dets) > 4 else ''
    seg = j.parts['segmentation']
    counts = np.bincount(np.frombuffer(seg.data, np.uint8), minlength=1)
    share = counts / max(1, counts.sum())
    top = [i for i in np.argsort(-share) if i != 0 and share[i] > 0][:3]  # label 0 = background
    regions = ', '.join(f'{seg_names.get(int(i), int(i))} {100 * share[i]:.0f}%' for i in top) or 'background'
    return (f'#{n:3d} seq {s.sequence:3d} {s.payload_bytes:6d} B | enc {s.encode_ms:5.1f} transit {s.transit_ms:6.1f} '
            f'decode {s.decode_ms:5.1f} heads {s.heads_ms:6.1f} total {s.total_ms:6.1f} ms | scene {scene} | '
            f'{len(dets)} obj [{objs}] | seg {regions}')


def run_demo(*, frames: int = 100, out: str | Path = 'out/demo', rate_hz: float = 5.0, codec: str = 'ladon',
             domain_id: int = 47, pngs: int = 4, timeout_s: float | None = None) -> int:
    """Runs the demo; returns the process exit code (1 when no results arrived)."""
    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.weights import default_checkpoint, is_random
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Resolve (and, without shipped weights, write once) the checkpoints before three
    # processes race to create the same random fallback file.
    metas = [read_metadata(default_checkpoint(k)) for k in ('ladon', 'teacher')]
    random = is_random(metas[0] if codec == 'ladon' else metas[1])  # the model serving this codec
    if random:
        print(f'{BANNER}\n!!! RANDOM WEIGHTS: no trained checkpoint is shipped; every result below is MEANINGLESS.\n'
              f'!!! (the pipeline, bytes and latencies are real; the labels are noise)\n{BANNER}', flush=True)
    timeout_s = timeout_s or frames / rate_hz + 90
    code = 1
    with NodeProcesses(domain_id, out / 'logs', {'OMP_NUM_THREADS': '1'}) as procs:
        procs.start('edge_perception', params={'serve_image_codecs': codec != 'ladon'})
        procs.start('camera_encoder', params={'codec': codec})
        rclpy.init(args=[], domain_id=domain_id)
        try:
            node = rclpy.create_node('ladon_demo_watcher')
            watcher = Watcher(node)
            _wait_for_subscribers(node, procs, 120.0)
            procs.start('image_source', params={'max_frames': frames, 'rate_hz': rate_hz,
                                                'wait_for_subscribers': 2})  # encoder + this watcher
            print(f'source: {frames} synthetic frames at {rate_hz} Hz, codec {codec}, ROS_DOMAIN_ID {domain_id}',
                  flush=True)
            code = _watch(node, watcher, procs, frames, rate_hz, timeout_s, out, pngs, random)
            node.destroy_node()
        finally:
            rclpy.shutdown()
            exit_codes = procs.stop()
    print(f'nodes stopped: {exit_codes}; logs in {out / "logs"}')
    if random:
        print(f'{BANNER}\n!!! RANDOM WEIGHTS were used: the labels above are meaningless.\n{BANNER}')
    return code


def _wait_for_subscribers(node, procs: NodeProcesses, timeout: float) -> None:
    # Start the source only once the encoder listens and the edge has found the robot and
    # subscribed to its latent (the ONNX encoder is up in ~1 s, the edge's torch model takes
    # longer), so frame 1 is not lost to discovery.
    end = time.monotonic() + timeout
    while time.monotonic() < end and (node.count_subscribers('/image_raw') < 2
                                      or node.count_subscribers('/latent') < 1):
        for label in procs.procs:
            if not procs.alive(label):
                raise RuntimeError(f'{label} exited early:\n{procs.log(label)[-3000:]}')
        rclpy.spin_once(node, timeout_sec=0.2)


def _watch(node, watcher: Watcher, procs, frames, rate_hz, timeout_s, out: Path, pngs: int, random: bool) -> int:
    # The source needs seconds to import torch & co: the clock starts at its first image.
    first_image = time.monotonic() + 60.0
    while time.monotonic() < first_image and not watcher.frames and not watcher.done:
        rclpy.spin_once(node, timeout_sec=0.1)
    end = time.monotonic() + timeout_s
    source_end = time.monotonic() + frames / rate_hz
    png_every = max(1, frames // max(1, pngs))
    shown, written, stats = 0, [], []
    last_new = time.monotonic()
    while time.monotonic() < end and shown < frames:
        rclpy.spin_once(node, timeout_sec=0.05)
        while watcher.done:
            key, j = watcher.done.pop(0)
            shown += 1
            last_new = time.monotonic()
            stats.append(j.parts['frame_stats'])
            if j.image is not None:
                watcher.raw_bytes = j.image.width * j.image.height * 3
            print(describe(j, shown, watcher.seg_names), flush=True)
            if j.image is not None and (shown - 1) % png_every == 0 and len(written) < pngs:
                path = out / f'frame_{shown:03d}.png'
                img = annotate(image_to_rgb(j.image), watcher.to_results(j))
                cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                written.append(path)
        if time.monotonic() > source_end and time.monotonic() - last_new > 8.0:
            break  # the source is done and nothing arrived for a while
    settle = time.monotonic() + 1.5  # one more 1 Hz /diagnostics message, counting the last frames
    while time.monotonic() < settle:
        rclpy.spin_once(node, timeout_sec=0.1)
    for label in procs.procs:
        if not procs.alive(label):
            print(f'!!! {label} exited early:\n{procs.log(label)[-3000:]}')
    if len(written) >= 4:  # the README figure: the first four annotated frames, 2 x 2
        tiles = [cv2.imread(str(p)) for p in written[:4]]
        if all(t is not None and t.shape == tiles[0].shape for t in tiles):
            cv2.imwrite(str(out / 'frames_2x2.png'), cv2.vconcat([cv2.hconcat(tiles[:2]), cv2.hconcat(tiles[2:])]))
            written.append(out / 'frames_2x2.png')
    _summary(watcher, stats, frames, written)
    return 0 if shown else 1


def _summary(watcher: Watcher, stats: list[FrameStats], frames: int, written: list[Path]) -> None:
    print('-' * 78)
    shown = len(stats)
    print(f'served {shown} of {frames} frames (keep-latest QoS drops frames the edge cannot keep up with)')
    if stats:
        encoded = max(s.sequence for s in stats) + 1
        print(f'camera encoder sent {encoded} latents (sequence numbers); the edge served {shown}; '
              f'{frames - encoded} source frames were not encoded (camera side busy or not yet discovered)')
        med = {k: median_or_nan([getattr(s, k) for s in stats])
               for k in ('payload_bytes', 'encode_ms', 'transit_ms', 'decode_ms', 'heads_ms', 'total_ms')}
        print(f'median per frame: {med["payload_bytes"]:.0f} B on the wire | encode {med["encode_ms"]:.1f} ms, '
              f'transit {med["transit_ms"]:.1f} ms, decode {med["decode_ms"]:.1f} ms, '
              f'heads {med["heads_ms"]:.1f} ms, capture->results {med["total_ms"]:.1f} ms')
        if watcher.raw_bytes:
            print(f'raw RGB8 camera frame: {watcher.raw_bytes} B -> {watcher.raw_bytes / med["payload_bytes"]:.1f}x '
                  'fewer bytes on the link')
    if watcher.diag:
        d = watcher.diag
        keys = ('frames_served', 'frames_rejected', 'frames_dropped_stale')
        print('edge /diagnostics: ' + ', '.join(f'{k}={d[k]}' for k in keys if k in d))
    if written:
        print('annotated frames: ' + ', '.join(str(p) for p in written))
    if not shown:
        print('!!! NO RESULTS ARRIVED: see the node logs')


def median_or_nan(values: list[float]) -> float:
    """Median of ``values`` (nan when empty)."""
    return statistics.median(values) if values else float('nan')
