"""Robot-side image sources: the synthetic world, a video file, an image folder, a camera.

The ``image_source`` node is a thin shell around ``ImageSource`` (no rclpy here). One bad
input never ends the stream: an unreadable or refused image file is skipped, a video that
fails mid-way skips the frames that do not decode (and is reopened from its start when
nothing more decodes), a camera that disappears is retried every
``retry_s`` until it is back. Each such event is counted by reason and handed to the node
as a ``SourceEvent`` (a rate-limited warning there, and the counts on ``/diagnostics``).
Only a video or a folder with ``loop`` false ends, at its end.

Images are published as 8-bit RGB: grayscale is replicated to three channels, alpha is
dropped, 16-bit samples are scaled to 8 bits (each conversion counted); other sample types
and images smaller than ``MIN_SIDE`` or larger than ``MAX_SIDE`` pixels are refused.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')
MIN_SIDE = 16      # px; smaller images carry nothing a 128-px model input could use
MAX_SIDE = 16384   # px; the camera encoder refuses larger images (ros.conversions)
RETRY_S = 1.0      # seconds between attempts to reopen a camera or a video
MAX_VIDEO_SKIPS = 10  # consecutive unreadable video frames before the rest counts as its end


class ImageRefused(ValueError):
    """An image that cannot be published; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f'{reason}: {detail}')
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class SourceEvent:
    """Something the node should report: ``reason`` (counter key) and a human ``text``."""

    reason: str
    text: str


def to_rgb8(image: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """An image as OpenCV decodes it (BGR(A) order, any depth) -> (H, W, 3) uint8 RGB.

    Returns:
        The RGB image and the conversions made (``'grayscale'``, ``'alpha_dropped'``,
        ``'16bit_scaled'``), for the counters.

    Raises:
        ImageRefused: ``'unsupported_depth'`` (not 8/16-bit unsigned),
            ``'unsupported_channels'``, ``'too_small'`` or ``'too_large'``.
    """
    notes = []
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageRefused('too_small', f'{w}x{h} px is below {MIN_SIDE} px')
    if max(h, w) > MAX_SIDE:
        raise ImageRefused('too_large', f'{w}x{h} px is above {MAX_SIDE} px')
    if image.dtype == np.uint16:
        # Round to nearest: 65535 -> 255, 257 * v -> v.
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
        notes.append('16bit_scaled')
    elif image.dtype != np.uint8:
        raise ImageRefused('unsupported_depth', f'{image.dtype} samples (8- or 16-bit unsigned only)')
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        notes.append('grayscale')
        return cv2.cvtColor(image.reshape(h, w), cv2.COLOR_GRAY2RGB), notes
    if channels == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), notes
    if channels == 4:
        notes.append('alpha_dropped')
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), notes
    raise ImageRefused('unsupported_channels', f'{channels} channels')


def read_image_file(path: Path) -> tuple[np.ndarray, list[str]]:
    """Decodes one image file to 8-bit RGB (see ``to_rgb8``).

    Raises:
        ImageRefused: ``'unreadable'`` (missing, truncated, not an image) or a ``to_rgb8`` reason.
    """
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as err:
        raise ImageRefused('unreadable', f'{path.name}: {err.strerror or err}') from None
    # IMREAD_UNCHANGED keeps 16-bit samples and alpha, so they are converted knowingly.
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ImageRefused('unreadable', f'{path.name}: OpenCV cannot decode it (truncated or not an image)')
    try:
        return to_rgb8(image)
    except ImageRefused as err:
        raise ImageRefused(err.reason, f'{path.name}: {err.detail}') from None


def list_images(folder: Path) -> list[Path]:
    """The image files of ``folder`` sorted by name (suffixes ``IMAGE_SUFFIXES``)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


class ImageSource:
    """Frames of one source, one per ``next()`` call (the node calls it at its rate).

    Args:
        cfg: An ``ImageSourceConfig``-like object: ``mode``, ``path``, ``camera_index``,
            ``width``, ``height``, ``seed``, ``loop`` (and ``synthetic_frames``, default 0).
        retry_s: Seconds between attempts to reopen a lost camera or a failed video.
        capture: Opens a ``cv2.VideoCapture``-like object from a path or a camera index
            (tests substitute one that fails on cue).
        clock: Monotonic seconds.

    Raises:
        ValueError: At construction, for a folder without images or a video OpenCV cannot
            open at all (a wrong path is a configuration error, not a transient one).
    """

    def __init__(self, cfg, *, retry_s: float = RETRY_S,
                 capture: Callable = cv2.VideoCapture, clock: Callable[[], float] = time.monotonic):
        self.cfg, self.retry_s, self._capture, self._clock = cfg, retry_s, capture, clock
        self.frames = 0                   # frames returned
        self.problems: Counter = Counter()     # reason -> inputs skipped / failed attempts
        self.conversions: Counter = Counter()  # conversion -> frames converted
        self.ended = False
        self.retrying = False
        self._events: list[SourceEvent] = []
        self._gen = self._cap = None
        self._files: list[Path] = []
        self._index = 0          # next folder file / next video frame
        self._video_skips = 0    # consecutive unreadable video frames
        self._next_try = 0.0     # clock time of the next reopen attempt
        # 'synthetic' with synthetic_frames N > 0: the N frames rendered once, then cycled.
        self._cycle_n = int(getattr(cfg, 'synthetic_frames', 0))
        self._cycle: list[np.ndarray] = []
        if cfg.mode == 'synthetic':
            from ladon_ros.world import SceneGenerator
            self._gen = SceneGenerator(image_size=(cfg.height, cfg.width), seed=cfg.seed)
        elif cfg.mode == 'folder':
            self._files = list_images(Path(cfg.path))
            if not self._files:
                raise ValueError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {cfg.path}')
        elif cfg.mode == 'video':
            self._cap = self._capture(cfg.path)
            if not self._cap.isOpened():
                raise ValueError(f'OpenCV cannot open video {cfg.path}')
        else:
            self._open_camera()

    @property
    def what(self) -> str:
        """The source in words, for messages."""
        if self.cfg.mode in ('video', 'folder'):
            return f'{self.cfg.mode} {self.cfg.path}'
        return 'synthetic scenes' if self.cfg.mode == 'synthetic' else f'camera {self.cfg.camera_index}'

    def state(self) -> str:
        """'streaming', 'retrying' (camera or video lost, reopening) or 'ended'."""
        return 'ended' if self.ended else 'retrying' if self.retrying else 'streaming'

    def events(self) -> list[SourceEvent]:
        """The events since the last call (skipped inputs, lost and regained devices)."""
        out, self._events = self._events, []
        return out

    def next(self) -> np.ndarray | None:
        """The next (H, W, 3) uint8 RGB frame, or None: nothing this time (see ``ended``)."""
        if self.ended:
            return None
        if self._gen is not None:
            frame = self._synthetic()
        elif self._files:
            frame = self._next_file()
        elif self.cfg.mode == 'video':
            frame = self._next_video()
        else:
            frame = self._next_camera()
        if frame is not None:
            self.frames += 1
        return frame

    def close(self) -> None:
        """Releases the video / camera."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    # -- helpers ------------------------------------------------------------------------
    def _synthetic(self) -> np.ndarray:
        # Rendering a scene costs ~30 ms of CPU at 640x480: a robot-side process that both
        # renders and encodes (``robot_camera``, the weak-robot benchmark) would spend its
        # CPU on the test pattern. ``synthetic_frames`` N > 0 renders N scenes once, then cycles.
        if not self._cycle_n:
            return self._gen.sample(self.frames).image
        i = self.frames % self._cycle_n
        if i == len(self._cycle):
            frame = self._gen.sample(i).image
            frame.setflags(write=False)  # handed out again and again: nobody may draw on it
            self._cycle.append(frame)
        return self._cycle[i]

    def _problem(self, reason: str, text: str) -> None:
        self.problems[reason] += 1
        self._events.append(SourceEvent(reason, text))

    def _convert(self, image: np.ndarray, where: str) -> np.ndarray | None:
        try:
            rgb, notes = to_rgb8(image)
        except ImageRefused as err:
            self._problem(err.reason, f'{where}: {err.detail}; skipped')
            return None
        self.conversions.update(notes)
        return rgb

    def _next_file(self) -> np.ndarray | None:
        """The next readable file; refused ones are skipped in the same call."""
        tried = 0
        while tried < len(self._files):
            tried += 1
            if self._index >= len(self._files):
                if not self.cfg.loop:
                    self.ended = True
                    return None
                self._index = 0
                self._files = list_images(Path(self.cfg.path)) or self._files  # new files join
            path = self._files[self._index]
            self._index += 1
            try:
                rgb, notes = read_image_file(path)
            except ImageRefused as err:
                self._problem(err.reason, f'{err.detail}; skipped')
                continue
            self.conversions.update(notes)
            return rgb
        return None  # every file refused this round: try again next time (files may change)

    def _next_video(self) -> np.ndarray | None:
        if self._cap is None:  # a reopen failed: retry later
            if self._clock() < self._next_try or not self._reopen_video():
                return None
        ok, bgr = self._cap.read()
        if ok:
            self._index += 1
            self._video_skips = 0
            return self._convert(bgr, f'{self.what} frame {self._index - 1}')
        total = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if 0 <= self._index < total and self._video_skips < MAX_VIDEO_SKIPS:
            # A frame that does not decode mid-way: OpenCV has consumed it, go on after it.
            self._index += 1
            self._video_skips += 1
            self._problem('video_read_failed', f'{self.what}: frame {self._index - 1} of {total} '
                          'unreadable; skipped')
            return None
        return self._video_end()

    def _video_end(self) -> np.ndarray | None:
        """End of the video or of its readable part: ended, or reopened at frame 0 when looping."""
        if self._video_skips:
            self._problem('video_truncated', f'{self.what}: nothing readable after frame '
                          f'{self._index - self._video_skips - 1}; reopening it')
        self._video_skips = 0
        self._cap.release()
        self._cap = None
        if not self.cfg.loop:
            self.ended = True
            return None
        if not self._reopen_video():
            return None
        ok, bgr = self._cap.read()
        if not ok:
            return None  # the next call tells a bad frame from an end again
        self._index = 1
        return self._convert(bgr, f'{self.what} frame 0')

    def _reopen_video(self) -> bool:
        """Opens the video again from its start (a fresh decoder: seeking is unreliable in OpenCV)."""
        cap = self._capture(self.cfg.path)
        if not cap.isOpened():
            self.retrying = True
            self._next_try = self._clock() + self.retry_s
            self._problem('video_reopen_failed', f'cannot reopen {self.what}; retrying every {self.retry_s:g} s')
            return False
        self._cap, self._index, self.retrying = cap, 0, False
        return True

    def _open_camera(self) -> bool:
        self._next_try = self._clock() + self.retry_s
        if self.retrying:  # OpenCV already said why on the first attempt: not once a second
            level = cv2.getLogLevel()
            cv2.setLogLevel(0)
            try:
                cap = self._capture(self.cfg.camera_index)
            finally:
                cv2.setLogLevel(level)
        else:
            cap = self._capture(self.cfg.camera_index)
        if cap.isOpened():
            if self.retrying:
                self._events.append(SourceEvent('camera_back', f'{self.what} is back'))
            self._cap, self.retrying = cap, False
            return True
        cap.release()
        self._problem('camera_unavailable', f'cannot open {self.what}; retrying every {self.retry_s:g} s')
        self.retrying = True
        return False

    def _next_camera(self) -> np.ndarray | None:
        if self._cap is None:
            if self._clock() < self._next_try or not self._open_camera():
                return None
        ok, bgr = self._cap.read()
        if ok:
            return self._convert(bgr, self.what)
        self._cap.release()
        self._cap = None
        self._problem('camera_lost', f'{self.what} stopped delivering frames; reopening every {self.retry_s:g} s')
        self.retrying = True
        self._next_try = self._clock()  # first reopen attempt at once
        return None
