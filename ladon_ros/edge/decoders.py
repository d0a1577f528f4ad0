"""One decoder per codec family, behind one protocol: a validated frame -> a model's input.

- ``LatentFrameDecoder``: Ladon frames; picks the model by weights hash, checks the frame
  names it consistently, decodes the latent in ``ladon_ros.codec.latent.decode`` (length,
  padding, symbol range, re-encode check) and runs the model's decoder.
- ``ImageFrameDecoder``: raw/JPEG/PNG/WebP frames for the teacher.
"""
from __future__ import annotations

from typing import Any, Protocol

from ladon_ros.codec import bitstream
from ladon_ros.codec.bitstream import BitstreamHeader
from ladon_ros.codec.image_codecs import decode_image
from ladon_ros.codec.latent.decode import LatentDecoder
from ladon_ros.codec.latent.shape import latent_shape
from ladon_ros.codec.wire import WireFrame
from ladon_ros.edge.backend import EdgeModel
from ladon_ros.errors import FrameRejected


class FrameDecoder(Protocol):
    """Decodes the frames of one codec family."""

    def decode(self, frame: WireFrame, header: BitstreamHeader, body: bytes) -> tuple[str, Any]:
        """(key of the model that serves it, that model's input for the frame).

        Raises:
            FrameRejected: With the reason.
        """


class LatentFrameDecoder:
    """Ladon frames of any of ``models`` (keyed by their 16-digit weights hash).

    Attributes:
        verify_encoding: Refuse bodies that are not the exact encoding of their symbols.
    """

    def __init__(self, models: dict[str, EdgeModel], *, verify_encoding: bool = True):
        self.models = models
        self.coders = {key: LatentDecoder(m.tables) for key, m in models.items()}
        self.verify_encoding = bool(verify_encoding)

    def decode(self, frame: WireFrame, header: BitstreamHeader, body: bytes) -> tuple[str, Any]:
        model = self.models.get(frame.weights_hash)
        if model is None:
            raise FrameRejected('weights_mismatch', f'no model with weights {frame.weights_hash!r} '
                                f'(model {frame.model_id!r}); serving {sorted(self.models)}')
        meta = model.meta
        if frame.model_id != meta.model_id:
            raise FrameRejected('model_mismatch', f'frame model {frame.model_id!r} != {meta.model_id!r}')
        if header.weights_hash != bitstream.hash_prefix(meta.weights_hash):
            raise FrameRejected('weights_mismatch', 'bitstream weights hash differs from the message')
        # The latent shape is fixed by the model: anything else is refused before decoding.
        want = latent_shape(model.tables.channels, meta.input_size)
        if header.shape != want:
            raise FrameRejected('bad_shape', f'latent {header.shape} but model {meta.model_id!r} makes {want}')
        latent = self.coders[meta.short_hash].latent(body, header.shape, verify=self.verify_encoding)
        features = model.decode(latent)
        if not model.finite(features):
            raise FrameRejected('bad_symbols', 'decoded features are not finite')
        return meta.short_hash, features


class ImageFrameDecoder:
    """Image-codec frames, served by the teacher (None: refused as ``'no_teacher'``)."""

    KEY = 'teacher'

    def __init__(self, teacher: EdgeModel | None):
        self.teacher = teacher

    def decode(self, frame: WireFrame, header: BitstreamHeader, body: bytes) -> tuple[str, Any]:
        if self.teacher is None:
            raise FrameRejected('no_teacher', f'{frame.codec} frames need a teacher checkpoint on the edge')
        meta = self.teacher.meta
        if header.shape != (3, *meta.input_size):
            raise FrameRejected('bad_shape', f'{frame.codec} image {header.shape}, teacher expects '
                                f'{(3, *meta.input_size)}')
        return self.KEY, self.teacher.image_input(decode_image(frame.codec, body, header.shape))
