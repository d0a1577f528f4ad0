"""The transport-neutral form of one compressed frame (mirrors ``msg/LatentFrame.msg``)."""
from __future__ import annotations

from dataclasses import dataclass

from ladon_ros.errors import FrameRejected


@dataclass(frozen=True)
class WireFrame:
    """One encoded camera frame as it crosses the link.

    Attributes:
        codec: ``'ladon'``, ``'raw'``, ``'jpeg'``, ``'png'`` or ``'webp'``.
        payload: Versioned bitstream (``ladon_ros.codec.bitstream``).
        image_size: (height, width) of the original camera image, pixels.
        latent_shape: (C, H, W) of the latent or of the encoded image.
        model_id: Registry name of the model that made it ('' for image codecs).
        weights_hash: First 16 hex digits of the weights' SHA-256 ('' for image codecs).
        rate_point: Training beta of the model, or the image codec's quality.
        encode_ms: Robot-side encode time, milliseconds.
    """

    codec: str
    payload: bytes
    image_size: tuple[int, int]
    latent_shape: tuple[int, ...]
    model_id: str = ''
    weights_hash: str = ''
    rate_point: float = 0.0
    encode_ms: float = 0.0


def from_message(msg) -> WireFrame:
    """A ``LatentFrame`` (the rclpy message, or any object with its fields, e.g. decoded from a bag).

    Only the shape is checked here (before the list is copied: a hostile message may carry a
    huge one); ``EdgePerception.prepare`` validates the rest.

    Raises:
        FrameRejected: ``'bad_shape'`` for a latent shape that is not 3-D.
    """
    if len(msg.latent_shape) != 3:
        raise FrameRejected('bad_shape', f'latent_shape has {len(msg.latent_shape)} dims, expected 3')
    shape = tuple(int(v) for v in msg.latent_shape)
    payload = msg.data.tobytes() if hasattr(msg.data, 'tobytes') else bytes(msg.data)
    return WireFrame(msg.codec, payload, (int(msg.image_height), int(msg.image_width)), shape,
                     msg.model_id, msg.weights_hash, float(msg.rate_point), float(msg.encode_ms))


def save_frames(path, frames: list[WireFrame]) -> None:
    """Writes encoded frames to a JSON file (payload in base64), for replay without an encoder.

    JSON, not pickle: a frame file may come from elsewhere and must never run code.
    """
    import base64
    import json
    rows = [{**{k: getattr(f, k) for k in ('codec', 'image_size', 'latent_shape', 'model_id', 'weights_hash',
                                             'rate_point', 'encode_ms')},
             'payload': base64.b64encode(bytes(f.payload)).decode()} for f in frames]
    with open(path, 'w') as fh:
        json.dump(rows, fh)


def load_frames(path) -> list[WireFrame]:
    """Reads a file written by ``save_frames``."""
    import base64
    import json
    with open(path) as fh:
        rows = json.load(fh)
    return [WireFrame(r['codec'], base64.b64decode(r['payload']), tuple(r['image_size']), tuple(r['latent_shape']),
                      r['model_id'], r['weights_hash'], float(r['rate_point']), float(r['encode_ms']))
            for r in rows]
