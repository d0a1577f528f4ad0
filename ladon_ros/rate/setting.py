"""``EncoderSetting``: the one text notation of a camera-encoder setting.

Written ``<codec>[@<value>]`` or ``ladon:<checkpoint>``:

- ``raw``, ``jpeg``, ``jpeg@50``, ``png@3``, ``webp@90``: an image codec; the value is
  its quality (JPEG/WebP) or compression level (PNG); none = the codec's default.
- ``ladon``: the shipped default Ladon checkpoint (``weights.DEFAULT_RATE_POINT``).
- ``ladon@0.25``: the shipped Ladon checkpoint of the default model at rate point
  (beta) 0.25; the ``camera_encoder`` resolves it from its ``rate_point`` parameter.
- ``ladon:/path/x.safetensors``: an explicit Ladon checkpoint.

The rate adapter's ``points`` parameter and ``ladon-ros bench-link --codecs`` use it
(the benchmark adds ``local``, and reads a bare ``ladon`` as "every shipped rate point").
``str(EncoderSetting.parse(text))`` gives the canonical text back. No ROS here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ladon_ros.codec.image_codecs import DEFAULT_QUALITY, IMAGE_CODECS, check_quality

LADON = 'ladon'


@dataclass(frozen=True)
class EncoderSetting:
    """What the camera encoder runs (validated).

    Attributes:
        codec: ``'ladon'`` or one of ``IMAGE_CODECS``.
        quality: Image-codec quality; None = the codec's default (always None for ladon, raw).
        rate_point: Ladon rate point (beta) of a shipped checkpoint; None = not chosen this way.
        checkpoint: Explicit Ladon checkpoint file; '' = not chosen this way.
    """

    codec: str
    quality: int | None = None
    rate_point: float | None = None
    checkpoint: str = ''

    def __post_init__(self):
        if self.codec == LADON:
            if self.quality is not None:
                raise ValueError('a ladon setting takes no quality (ladon@<beta> or ladon:<checkpoint>)')
            if self.rate_point is not None and self.checkpoint:
                raise ValueError('a ladon setting takes a rate point or a checkpoint, not both')
            if self.rate_point is not None and not (math.isfinite(self.rate_point) and self.rate_point > 0):
                raise ValueError(f'ladon rate point must be a finite beta > 0, got {self.rate_point}')
        elif self.codec in IMAGE_CODECS:
            if self.rate_point is not None or self.checkpoint:
                raise ValueError(f'{self.codec} takes a quality (@q), not a rate point or a checkpoint')
            if self.quality is not None:
                if self.codec == 'raw':
                    raise ValueError('raw takes no quality')
                check_quality(self.codec, self.quality)
        else:
            raise ValueError(f'unknown codec {self.codec!r}; expected ladon or one of {IMAGE_CODECS}')

    @classmethod
    def parse(cls, text: str) -> 'EncoderSetting':
        """``'jpeg@50'`` / ``'ladon@0.25'`` / ``'ladon:/x.safetensors'`` -> setting (see module doc).

        Raises:
            ValueError: Unknown codec, malformed value, value out of range.
        """
        text = text.strip()
        codec, colon, path = text.partition(':')
        if colon:
            if codec != LADON or not path:
                raise ValueError(f'bad encoder setting {text!r}: only ladon:<checkpoint> takes a path')
            return cls(LADON, checkpoint=path)
        codec, at, value = text.partition('@')
        if at and not value:
            raise ValueError(f'bad encoder setting {text!r}: nothing after @')
        try:
            if codec == LADON:
                return cls(LADON, rate_point=float(value) if value else None)
            return cls(codec, quality=int(value) if value else None)
        except ValueError as e:
            raise ValueError(f'bad encoder setting {text!r}: {e}') from None

    def __str__(self) -> str:
        if self.checkpoint:
            return f'{LADON}:{self.checkpoint}'
        if self.codec == LADON:
            return LADON if self.rate_point is None else f'{LADON}@{_short(self.rate_point)}'
        return self.codec if self.quality is None else f'{self.codec}@{self.quality}'

    def quality_or_default(self) -> int:
        """The image-codec quality the encoder uses (its default when unset; -1 for ladon)."""
        if self.codec == LADON:
            return -1
        return DEFAULT_QUALITY[self.codec] if self.quality is None else self.quality

    def encoder_params(self) -> dict[str, object]:
        """Every ``camera_encoder`` parameter this setting decides (unused ones at their defaults).

        All four are always given, so switching a running encoder from one setting to
        another leaves no value of the previous one behind.
        """
        return {'codec': self.codec, 'checkpoint': self.checkpoint,
                'rate_point': float(self.rate_point or 0.0), 'quality': -1 if self.quality is None else self.quality}

    def checkpoint_path(self) -> Path:
        """The Ladon checkpoint file this setting loads (the camera encoder resolves it the same way).

        Raises:
            ValueError: Not a ladon setting, or no shipped checkpoint has that rate point.
        """
        from ladon_ros.weights import resolve_ladon_checkpoint
        if self.codec != LADON:
            raise ValueError(f'{self} is not a ladon setting')
        return resolve_ladon_checkpoint(self.checkpoint, rate_point=self.rate_point or 0.0)

    def frame_identity(self) -> tuple[str, float]:
        """(codec, rate_point) that frames of this setting carry (``LatentFrame``/``FrameStats``)."""
        if self.codec != LADON:
            return self.codec, float(self.quality_or_default())
        if self.rate_point is not None:
            return LADON, float(self.rate_point)
        from ladon_ros.checkpoint import read_metadata
        return LADON, float(read_metadata(self.checkpoint_path()).rate_point)


def _short(value: float) -> str:
    """``value`` in as few digits as read back exactly (0.25, 5.12, 1e-05)."""
    text = f'{value:g}'
    return text if float(text) == value else repr(value)
