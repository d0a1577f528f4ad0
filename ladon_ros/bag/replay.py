"""Offline edge perception on a recorded bag: every ``<robot>/latent`` frame -> results, no DDS.

Frames go through the same steps as in the live ``edge_perception`` node (message fields ->
``WireFrame`` -> ``EdgePerception.prepare`` -> ``infer``) and a bad frame is counted under the
same rejection reason. Each frame gives one JSON line (stamp, robot, sequence, codec, bytes,
classification, boxes, mask statistics, timings; or the rejection reason); optionally every
N-th frame is drawn to a PNG (boxes, labels, masks on a grey canvas: a latent bag holds no
camera image). No rclpy here: CDR is decoded with the schemas stored in the bag.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ladon_ros.bag.rosbag2 import LATENT_TYPE, read_messages
from ladon_ros.codec.wire import from_message
from ladon_ros.errors import FrameRejected

LATENT_SUFFIX = '/latent'


@dataclass
class ReplayReport:
    """What a replay did."""

    frames: int = 0                      # latent messages read
    served: int = 0                      # frames with results
    rejected: Counter = field(default_factory=Counter)  # reason -> frames, as the live edge counts them
    robots: Counter = field(default_factory=Counter)    # robot namespace -> frames served
    seconds: float = 0.0                 # wall time of decode + inference (model loading excluded)

    @property
    def fps(self) -> float:
        """Frames served per second of processing."""
        return self.served / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        """JSON-ready totals."""
        return {'frames': self.frames, 'served': self.served, 'rejected': dict(self.rejected),
                'robots': dict(self.robots), 'seconds': round(self.seconds, 3), 'frames_per_s': round(self.fps, 2)}


def latent_frames(bag: str | Path) -> Iterator[tuple[str, int, object]]:
    """(robot namespace, receive time [ns], decoded LatentFrame fields) of every latent in the bag."""
    from mcap_ros2.decoder import DecoderFactory
    factory, decoders = DecoderFactory(), {}
    for m in read_messages(bag):
        if m.msgtype != LATENT_TYPE or not m.topic.endswith(LATENT_SUFFIX):
            continue
        if m.schema_text not in decoders:
            from mcap.records import Schema
            decoders[m.schema_text] = factory.decoder_for('cdr', Schema(id=1, name=m.msgtype, encoding='ros2msg',
                                                                        data=m.schema_text.encode()))
        robot = m.topic[:-len(LATENT_SUFFIX)] or '/'
        try:
            yield robot, m.log_time_ns, decoders[m.schema_text](m.data)
        except Exception as err:  # noqa: BLE001 - a corrupt record is one bad frame, not the end
            yield robot, m.log_time_ns, err


def result_row(robot: str, msg, results, classes) -> dict:
    """One JSON line for a served frame."""
    seg = results.segmentation
    ids, counts = np.unique(seg, return_counts=True)
    names = classes.for_task('segmentation')
    fractions = {names[i] if i < len(names) else str(i): round(c / seg.size, 4) for i, c in zip(ids.tolist(), counts)}
    return {
        'stamp': msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, 'robot': robot, 'frame_id': msg.header.frame_id,
        'sequence': msg.sequence, 'codec': msg.codec, 'rate_point': round(float(msg.rate_point), 4),
        'bytes': len(msg.data),
        'classification': [{'class': h.class_name, 'score': round(h.score, 4)} for h in results.classification],
        'detections': [{'class': d.hypothesis.class_name, 'score': round(d.hypothesis.score, 4),
                        'box_cxcywh': [round(v, 1) for v in (d.center_x, d.center_y, d.size_x, d.size_y)]}
                       for d in results.detections],
        'segmentation': {'size_hw': list(seg.shape), 'class_fractions': fractions},
        'timings_ms': {k: round(v, 2) for k, v in results.timings_ms.items()},
    }


def replay(bag: str | Path, edge, *, out: Path | None = None, pngs: int = 0, rate: float = 0.0,
           max_frames: int = 0, on_row: Callable[[dict], None] | None = None) -> ReplayReport:
    """Runs ``edge`` (an ``EdgePerception``) on every latent frame of ``bag``.

    Args:
        out: Folder for ``results.jsonl``, ``summary.json`` and ``png/`` (None: nothing written).
        pngs: Draw every n-th served frame to ``out/png`` (0 = none).
        rate: 0 = as fast as possible; 1 = at the recorded rate; 2 = twice as fast, ...
        max_frames: Stop after this many latent messages (0 = all).
        on_row: Also called with every JSON row.
    """
    report = ReplayReport()
    lines = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        lines = open(out / 'results.jsonl', 'w')
    start_wall, start_log = time.monotonic(), None
    try:
        for robot, log_ns, msg in latent_frames(bag):
            if max_frames and report.frames >= max_frames:
                break
            report.frames += 1
            if rate > 0:  # recorded pacing: wait until this frame's offset, scaled
                start_log = log_ns if start_log is None else start_log
                delay = (log_ns - start_log) / 1e9 / rate - (time.monotonic() - start_wall)
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            row = _serve(edge, robot, msg, report)
            report.seconds += time.perf_counter() - t0
            results = row.pop('results', None)
            if lines is not None:
                lines.write(json.dumps(row) + '\n')
            if on_row is not None:
                on_row(row)
            if pngs and out is not None and results is not None and (report.served - 1) % pngs == 0:
                _draw(out / 'png', results, msg, report.served)
    finally:
        if lines is not None:
            lines.close()
    if out is not None:
        (out / 'summary.json').write_text(json.dumps(report.summary(), indent=1) + '\n')
    return report


def _serve(edge, robot: str, msg, report: ReplayReport) -> dict:
    """One frame through the live edge's steps; the row (with 'results' for drawing) or a rejection."""
    if isinstance(msg, Exception):
        return _reject(report, robot, None, 'bad_message', f'CDR does not decode: {msg}')
    try:
        frame = from_message(msg)
        prepared = edge.prepare(frame)
    except FrameRejected as err:
        return _reject(report, robot, msg, err.reason, err.detail)
    except Exception as err:  # noqa: BLE001 - as the live edge: a frame never stops the replay
        return _reject(report, robot, msg, 'decode_error', repr(err))
    try:
        results = edge.infer([prepared])[0]
    except Exception as err:  # noqa: BLE001
        return _reject(report, robot, msg, 'inference_error', repr(err))
    report.served += 1
    report.robots[robot] += 1
    row = result_row(robot, msg, results, edge.classes)
    row['results'] = results
    return row


def _reject(report: ReplayReport, robot: str, msg, reason: str, detail: str) -> dict:
    report.rejected[reason] += 1
    return {'robot': robot, 'sequence': getattr(msg, 'sequence', None), 'rejected': reason, 'detail': detail[:300]}


def _draw(folder: Path, results, msg, index: int) -> None:
    import cv2

    from ladon_ros.visualize import annotate
    folder.mkdir(parents=True, exist_ok=True)
    h, w = results.segmentation.shape
    canvas = np.full((h, w, 3), 96, np.uint8)
    image = annotate(canvas, results)
    cv2.imwrite(str(folder / f'{index:06d}_seq{msg.sequence}.png'), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
