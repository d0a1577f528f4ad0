"""``ImageCameraEncoder``: the input-compression baselines (raw, JPEG, PNG, WebP).

They resize to the Ladon model's input size first, so the baselines and Ladon see the
same pixels.
"""
from __future__ import annotations

import time

import numpy as np

from ladon_ros.camera.encoder import check_camera_image
from ladon_ros.codec import bitstream
from ladon_ros.codec.image_codecs import IMAGE_CODECS, check_quality, encode_image
from ladon_ros.codec.preprocess import resize_rgb
from ladon_ros.codec.wire import WireFrame


class ImageCameraEncoder:
    """One of the image baselines at a fixed quality and input size."""

    def __init__(self, codec: str, quality: int, input_size: tuple[int, int]):
        if codec not in IMAGE_CODECS:
            raise ValueError(f'unknown image codec {codec!r}; expected one of {IMAGE_CODECS}')
        check_quality(codec, quality)
        self.codec, self.quality, self.input_size = codec, int(quality), tuple(input_size)
        self.identity = None  # no model

    def encode(self, rgb: np.ndarray) -> WireFrame:
        """Encodes one (H, W, 3) uint8 RGB camera image."""
        check_camera_image(rgb)
        t0 = time.perf_counter()
        small = resize_rgb(rgb, self.input_size)
        body = encode_image(self.codec, small, self.quality)
        shape = (3, *self.input_size)
        payload = bitstream.pack(self.codec, shape, body)
        return WireFrame(self.codec, payload, rgb.shape[:2], shape, '', '', float(self.quality),
                         (time.perf_counter() - t0) * 1e3)
