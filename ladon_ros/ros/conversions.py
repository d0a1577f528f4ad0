"""Messages <-> core types. Pure functions, no node state.

``uint8[]`` fields arrive as ``array.array('B')`` (or ``bytes``): they are converted with
buffer copies (``tobytes`` / ``np.frombuffer``), never element by element.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
from cv_bridge import CvBridge
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ladon_ros.codec.wire import WireFrame, from_message
from ladon_ros.errors import FrameRejected
from ladon_ros.msg import (BoundingBox2D, Classification, Detection2D, Detection2DArray, FrameStats, LabelInfo,
                           LatentFrame, ObjectHypothesis, PerceptionResults, VisionClass)

if TYPE_CHECKING:  # both import torch; the camera side must run without it (ONNX back end)
    from ladon_ros.tasks import TaskClasses
    from ladon_ros.results import FrameResults

# encoding (sensor_msgs/image_encodings names) -> (channels, bytes per sample, OpenCV
# conversion to RGB or None). The codes are cv_bridge's (bayer_rggb8 -> BayerBG2RGB: OpenCV
# names a pattern by the second row). 16-bit samples are scaled to 8 bits first.
_ENCODINGS = {
    'rgb8': (3, 1, None),
    'bgr8': (3, 1, cv2.COLOR_BGR2RGB),
    'mono8': (1, 1, cv2.COLOR_GRAY2RGB),
    'rgba8': (4, 1, cv2.COLOR_RGBA2RGB),
    'bgra8': (4, 1, cv2.COLOR_BGRA2RGB),
    'rgb16': (3, 2, None),
    'bgr16': (3, 2, cv2.COLOR_BGR2RGB),
    'mono16': (1, 2, cv2.COLOR_GRAY2RGB),
    # 4:2:2, two bytes per pixel: 'yuv422' is UYVY in ROS, 'yuv422_yuy2' YUYV.
    'yuv422': (2, 1, cv2.COLOR_YUV2RGB_UYVY),
    'uyvy': (2, 1, cv2.COLOR_YUV2RGB_UYVY),
    'yuv422_yuy2': (2, 1, cv2.COLOR_YUV2RGB_YUYV),
    'yuyv': (2, 1, cv2.COLOR_YUV2RGB_YUYV),
    **{f'bayer_{p}{bits}': (1, bits // 8, code)
       for p, code in (('rggb', cv2.COLOR_BayerBG2RGB), ('bggr', cv2.COLOR_BayerRG2RGB),
                       ('gbrg', cv2.COLOR_BayerGR2RGB), ('grbg', cv2.COLOR_BayerGB2RGB))
       for bits in (8, 16)},
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)
MAX_IMAGE_SIDE = 16384  # pixels; larger camera images are refused before any allocation
_bridge = CvBridge()


def image_to_rgb(msg: Image) -> np.ndarray:
    """A ``sensor_msgs/Image`` -> (H, W, 3) uint8 RGB (a copy).

    Accepts what camera drivers publish (``SUPPORTED_ENCODINGS``: rgb8/bgr8/mono8 and their
    alpha or 16-bit forms, yuv422 (UYVY) / yuv422_yuy2 (YUYV), bayer_* 8/16-bit) with the
    conversions cv_bridge makes. Rows are read with the message's ``step`` (row padding
    allowed) and 16-bit data with its ``is_bigendian``. The PyPI cv_bridge port is not called:
    it assumes packed rows, has no yuv422 in its type table and misnames bayer_grbg8
    (its results are compared with these where it works, in test_sources.py).

    Raises:
        FrameRejected: (a ``ValueError``) with reason ``'unsupported_encoding'``,
            ``'bad_image_size'`` (zero, absurd, or an odd width for 4:2:2), ``'bad_step'`` or
            ``'short_data'``.
    """
    enc = msg.encoding.lower()
    if enc not in _ENCODINGS:
        raise FrameRejected('unsupported_encoding', f'unsupported image encoding {msg.encoding!r}; '
                            f'supported: {list(SUPPORTED_ENCODINGS)}')
    ch, size, code = _ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if not (0 < h <= MAX_IMAGE_SIDE and 0 < w <= MAX_IMAGE_SIDE):
        raise FrameRejected('bad_image_size', f'image size {w}x{h} is zero or above {MAX_IMAGE_SIDE}')
    if ch == 2 and w % 2:
        raise FrameRejected('bad_image_size', f'{enc} needs an even width, got {w}')
    row = w * ch * size
    if step < row:
        raise FrameRejected('bad_step', f'step {step} < width {w} x {ch} channels x {size} bytes')
    data = np.frombuffer(msg.data, np.uint8)
    if data.size < step * (h - 1) + row:
        raise FrameRejected('short_data', f'data has {data.size} bytes, {h} rows of step {step} '
                            f'need {step * (h - 1) + row}')
    rows = np.ascontiguousarray(np.lib.stride_tricks.as_strided(data, (h, row), (step, 1), writeable=False))
    if size == 2:
        samples = rows.view('>u2' if msg.is_bigendian else '<u2').astype(np.uint32)
        rows = ((samples + 128) // 257).astype(np.uint8)  # 65535 -> 255, rounded
    image = rows.reshape(h, w, ch) if ch > 1 else rows.reshape(h, w)
    if code is None:
        return image
    return cv2.cvtColor(image, code)


def rgb_to_image(rgb: np.ndarray, header: Header) -> Image:
    """(H, W, 3) uint8 RGB -> ``sensor_msgs/Image`` rgb8 (packed rows) with ``header``."""
    msg = _bridge.cv2_to_imgmsg(np.ascontiguousarray(rgb, np.uint8), encoding='rgb8')
    msg.header = header
    return msg


def labels_to_image(labels: np.ndarray, header: Header) -> Image:
    """(H, W) uint8 label ids -> ``sensor_msgs/Image`` mono8 with ``header``."""
    msg = Image(header=header, height=labels.shape[0], width=labels.shape[1], encoding='mono8',
                is_bigendian=0, step=labels.shape[1])
    msg.data = np.ascontiguousarray(labels, np.uint8).tobytes()
    return msg


# image_transport's ``compressed`` format string for a PNG of a mono8 image (what its
# compressed publisher writes), so a ``compressed`` subscriber decodes it to mono8 label ids.
LABELS_PNG_FORMAT = 'mono8; png compressed '
# zlib level 9: label maps are large flat regions; 9 costs ~1 ms at 640x480 and halves the
# bytes of OpenCV's default level 1 (these bytes cross the robot's slow link).
_PNG_LEVEL = 9


def labels_to_compressed(labels: np.ndarray, header: Header) -> CompressedImage:
    """(H, W) uint8 label ids -> PNG ``sensor_msgs/CompressedImage`` (lossless, a few hundred bytes)."""
    ok, png = cv2.imencode('.png', np.ascontiguousarray(labels, np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, _PNG_LEVEL])
    if not ok:
        raise ValueError(f'PNG encoding of a {labels.shape} label map failed')
    msg = CompressedImage(header=header, format=LABELS_PNG_FORMAT)
    msg.data = png.tobytes()
    return msg


def compressed_to_labels(msg: CompressedImage) -> np.ndarray:
    """Inverse of ``labels_to_compressed``: (H, W) uint8 label ids."""
    labels = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2:
        raise ValueError(f'not a mono PNG label map (format {msg.format!r})')
    return labels


def latent_to_wire(msg: LatentFrame) -> WireFrame:
    """A received ``LatentFrame`` -> ``WireFrame`` (``ladon_ros.codec.wire.from_message``, shared
    with the offline replay); the core (``EdgePerception.prepare``) validates.

    Raises:
        FrameRejected: ``'bad_shape'`` for a latent shape that is not 3-D.
    """
    return from_message(msg)


def wire_to_latent(frame: WireFrame, header: Header, sequence: int) -> LatentFrame:
    """``WireFrame`` -> ``LatentFrame`` carrying the camera image's ``header``."""
    msg = LatentFrame(header=header, sequence=sequence & 0xFFFFFFFF, image_width=frame.image_size[1],
                      image_height=frame.image_size[0], codec=frame.codec, model_id=frame.model_id,
                      weights_hash=frame.weights_hash, rate_point=float(frame.rate_point),
                      encode_ms=float(frame.encode_ms))
    msg.latent_shape = [int(v) for v in frame.latent_shape]
    msg.data = frame.payload
    return msg


def to_classification(results: FrameResults, header: Header) -> Classification:
    """Top-k scene hypotheses, class_id = class name."""
    return Classification(header=header, results=[
        ObjectHypothesis(class_id=h.class_name, score=float(h.score)) for h in results.classification])


def to_detections(results: FrameResults, header: Header, sequence: int) -> Detection2DArray:
    """Detections with ids ``'<sequence>-<index>'`` (unique per frame, stable within it)."""
    dets = []
    for i, d in enumerate(results.detections):
        dets.append(Detection2D(
            header=header, id=f'{sequence}-{i}',
            results=[ObjectHypothesis(class_id=d.hypothesis.class_name, score=float(d.hypothesis.score))],
            bbox=BoundingBox2D(center_x=float(d.center_x), center_y=float(d.center_y),
                               size_x=float(d.size_x), size_y=float(d.size_y))))
    return Detection2DArray(header=header, detections=dets)


def to_label_info(classes: TaskClasses, task: str, header: Header, threshold: float = 0.0) -> LabelInfo:
    """The label map of ``task`` (class_id = index the network uses, class_name = published name)."""
    return LabelInfo(header=header, threshold=float(threshold), class_map=[
        VisionClass(class_id=i, class_name=name) for i, name in enumerate(classes.for_task(task))])


def head_messages(results: FrameResults, wants: tuple[str, ...], header: Header,
                  sequence: int = 0) -> list[tuple[str, object]]:
    """The robot's compact result messages of one served frame, for the heads in ``wants``.

    Returns (topic key, message) pairs, in publishing order: ``classification``
    (Classification), ``detections`` (Detection2DArray), ``segmentation_png`` (the label map
    as PNG at the model's resolution). The edge publishes them with the frame's FrameStats;
    ``serialize_compact_results`` measures their cost.
    """
    out = []
    if 'classification' in wants:
        out.append(('classification', to_classification(results, header)))
    if 'detection' in wants:
        out.append(('detections', to_detections(results, header, sequence)))
    if 'segmentation' in wants:
        out.append(('segmentation_png', labels_to_compressed(results.compact_segmentation(), header)))
    return out


def to_perception_results(parts: list[tuple[str, object]], stats: FrameStats) -> PerceptionResults:
    """One served frame's compact results as one message (``perception/results``, the thin link's).

    Args:
        parts: ``head_messages`` of the frame; a head not in it leaves its part empty (with the
            frame's header), as a split topic would have published nothing.
        stats: The frame's FrameStats; its header is the frame's.
    """
    h = stats.header
    msg = PerceptionResults(header=h, stats=stats, classification=Classification(header=h),
                            detections=Detection2DArray(header=h), segmentation=CompressedImage(header=h))
    field = {'classification': 'classification', 'detections': 'detections', 'segmentation_png': 'segmentation'}
    for key, part in parts:
        setattr(msg, field[key], part)
    return msg


def serialize_compact_results(results: FrameResults, wants: tuple[str, ...]) -> int:
    """Builds and serialises (CDR) the compact result messages of one served frame, as the edge
    publishes them for the heads in ``wants`` plus its FrameStats; returns their bytes.

    What the publish stage costs the edge apart from DDS itself (``ladon-ros bench-edge``).
    """
    from rclpy.serialization import serialize_message

    h = Header()
    msgs = [m for _, m in head_messages(results, wants, h)]
    msgs.append(FrameStats(header=h, decode_ms=results.timings_ms['decode'], heads_ms=results.timings_ms['heads']))
    return sum(len(serialize_message(m)) for m in msgs)
