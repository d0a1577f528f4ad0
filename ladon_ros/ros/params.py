"""Declared, described, validated parameters of every node -> frozen config dataclasses.

Each node has one table of ``Param`` rows. ``declare`` turns a table into ROS parameters
(with descriptions and numeric ranges, so ``ros2 param describe`` documents them);
``parse`` validates the values and builds the node's frozen config. Parsing is plain
Python, so it is tested without a running node. Invalid values raise ``ConfigError`` at
startup (or at lifecycle configure) with the parameter's name and what is allowed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ladon_ros.codec.bitstream import CODEC_IDS
from ladon_ros.codec.image_codecs import DEFAULT_QUALITY, IMAGE_CODECS, check_quality

SOURCE_MODES = ('synthetic', 'video', 'folder', 'camera')


class ConfigError(ValueError):
    """A parameter value the node refuses to start with."""


@dataclass(frozen=True)
class Param:
    """One parameter row.

    Attributes:
        name: Parameter name.
        default: Default value; its Python type is the parameter type (list = string array).
        description: What it does, with units.
        range: (low, high) for numeric parameters, declared as the ROS range.
        check: Extra validation; raises ``ValueError`` with a human message.
    """

    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None
    check: Callable[[Any], None] | None = None


# --- validators ------------------------------------------------------------------------

def check_device(value: str) -> None:
    """Accepts torch device strings ('cpu', 'cuda', 'cuda:1') that exist on this machine."""
    if value == 'cpu':
        return  # no torch import: the ONNX camera side runs without torch
    import torch
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"{value!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:0')") from None
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'{value!r} requested but CUDA is not available here')
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f'{value!r}: only {torch.cuda.device_count()} CUDA device(s)')
    elif dev.type != 'cpu':
        raise ValueError(f'device type {dev.type!r} is not supported (use cpu or cuda)')


def _one_of(options: tuple[str, ...]) -> Callable[[Any], None]:
    def check(value: str) -> None:
        if value not in options:
            raise ValueError(f'{value!r} is not one of {list(options)}')
    return check


def check_model(value: str) -> None:
    """'' (any) or a registered Ladon model id."""
    if not value:
        return
    from ladon_ros.models.registry import list_models, model_kind
    if value not in list_models() or model_kind(value) != 'ladon':
        known = [m for m in list_models() if model_kind(m) == 'ladon']
        raise ValueError(f'unknown model {value!r}; Ladon models: {known}')


def check_checkpoint_file(value: str) -> None:
    """'' (shipped default) or an existing readable ``.safetensors`` checkpoint."""
    if not value:
        return
    from ladon_ros.checkpoint import read_metadata
    read_metadata(value)  # CheckpointError (a ValueError) says missing / not safetensors / bad metadata


def _each(check: Callable[[Any], None]) -> Callable[[list], None]:
    def check_all(values: list) -> None:
        for v in values:
            check(v)
    return check_all


def _namespaces(values: list[str]) -> None:
    if not values:
        raise ValueError("needs at least one namespace ('' = the node's own)")
    for ns in values:
        parts = [p for p in ns.strip('/').split('/') if p]
        if any(not (p[0].isalpha() or p[0] == '_') or not p.replace('_', 'a').isalnum() for p in parts):
            raise ValueError(f'{ns!r} is not a valid ROS namespace')
    if len(set(values)) != len(values):
        raise ValueError(f'duplicate namespaces in {values}')


# --- tables ----------------------------------------------------------------------------

IMAGE_SOURCE = (
    Param('mode', 'synthetic', "Where images come from: 'synthetic' (procedural scenes, no camera), "
          "'video' (file at path), 'folder' (images in path, sorted by name), 'camera' (OpenCV index)",
          check=_one_of(SOURCE_MODES)),
    Param('path', '', "Video file ('video') or image folder ('folder')"),
    Param('camera_index', 0, 'OpenCV / V4L2 camera index (/dev/video<N>)', range=(0, 63)),
    Param('rate_hz', 5.0, 'Publish rate [Hz]', range=(0.1, 120.0)),
    Param('width', 320, "Image width of 'synthetic' frames; other modes publish their native size [px]",
          range=(32, 8192)),
    Param('height', 240, "Image height of 'synthetic' frames [px]", range=(32, 8192)),
    Param('seed', 0, "Seed of the 'synthetic' scene generator", range=(0, 2**31 - 1)),
    Param('frame_id', 'camera_optical_frame', 'frame_id of the published images'),
    Param('loop', True, "Restart a 'video' / 'folder' source at its end"),
    Param('max_frames', 0, 'Stop publishing after this many frames (0 = never)', range=(0, 2**31 - 1)),
    Param('wait_for_subscribers', 0, 'Publish only while image_raw has at least this many matched subscribers, '
          'so a bounded run (max_frames) loses no frame to DDS discovery (0 = always publish)', range=(0, 1000)),
)

CAMERA_ENCODER = (
    Param('codec', 'ladon', f'Codec of the latent frames: {sorted(CODEC_IDS)}', check=_one_of(tuple(CODEC_IDS))),
    Param('checkpoint', '', "Ladon checkpoint (.safetensors); '' = shipped default of `model`",
          check=check_checkpoint_file),
    Param('model', '', "Ladon model id the checkpoint must be; '' = any (default model when checkpoint is '')",
          check=check_model),
    Param('rate_point', 0.0, "Shipped rate point (beta) to use when checkpoint is ''; 0 = the most accurate (lowest beta)",
          range=(0.0, 1000.0)),
    Param('quality', -1, 'Image codec quality (jpeg/webp 1..100, png 0..9); -1 = codec default',
          range=(-1, 100)),
    Param('device', 'cpu', "Torch device of the encoder ('cpu', 'cuda', 'cuda:0')", check=check_device),
    Param('backend', 'torch', "'torch' (the checkpoint) or 'onnx' (a folder from `ladon-ros export`; "
          'onnxruntime, no torch)', check=_one_of(('torch', 'onnx'))),
    Param('onnx_dir', '', "Exported camera folder (camera.json) for backend 'onnx'"),
    Param('threads', 1, "ONNX Runtime intra-op threads (backend 'onnx')", range=(1, 64)),
    Param('autostart', True, 'Configure and activate on start (no lifecycle manager needed)'),
)

EDGE = (
    Param('robot_namespaces', [''], "Robot namespaces to serve; '' = this node's own namespace",
          check=_namespaces),
    Param('checkpoints', [''], "Ladon checkpoints (rate points) to serve; [''] = the shipped default",
          check=_each(check_checkpoint_file)),
    Param('teacher_checkpoint', '', "Teacher checkpoint for image-codec frames; '' = shipped default",
          check=check_checkpoint_file),
    Param('serve_image_codecs', True, 'Load the teacher so raw/jpeg/png/webp frames are served too'),
    Param('device', 'cpu', "Torch device of decoder, body and heads ('cpu', 'cuda', 'cuda:0')",
          check=check_device),
    Param('top_k', 5, 'Classification hypotheses per frame', range=(1, 100)),
    Param('min_score', 0.3, 'Detections scoring below this are not published', range=(0.0, 1.0)),
    Param('max_batch', 8, 'Most frames (from several robots) run through the heads at once', range=(1, 64)),
    Param('publish_debug_image', True, 'Publish perception/debug_image (boxes, labels, blended mask)'),
    Param('overlay_alpha', 0.5, 'Opacity of the mask in the overlay and debug images', range=(0.0, 1.0)),
    Param('autostart', True, 'Configure and activate on start (no lifecycle manager needed)'),
)


# --- configs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageSourceConfig:
    """Validated parameters of ``image_source`` (see ``IMAGE_SOURCE``)."""

    mode: str
    path: str
    camera_index: int
    rate_hz: float
    width: int
    height: int
    seed: int
    frame_id: str
    loop: bool
    max_frames: int
    wait_for_subscribers: int

    def __post_init__(self):
        if self.mode in ('video', 'folder') and not self.path:
            raise ConfigError(f"path: mode {self.mode!r} needs a path")
        if self.mode == 'video' and not Path(self.path).is_file():
            raise ConfigError(f'path: video file {self.path!r} not found')
        if self.mode == 'folder' and not Path(self.path).is_dir():
            raise ConfigError(f'path: image folder {self.path!r} not found')


@dataclass(frozen=True)
class CameraEncoderConfig:
    """Validated parameters of ``camera_encoder`` (see ``CAMERA_ENCODER``)."""

    codec: str
    checkpoint: str
    model: str
    rate_point: float
    quality: int
    device: str
    backend: str
    onnx_dir: str
    threads: int
    autostart: bool

    def __post_init__(self):
        if self.backend == 'onnx' and not (Path(self.onnx_dir) / 'camera.json').is_file():
            raise ConfigError(f"onnx_dir: backend 'onnx' needs a folder with camera.json "
                              f'(from `ladon-ros export`), got {self.onnx_dir!r}')
        if self.codec in IMAGE_CODECS:
            try:
                check_quality(self.codec, self.image_quality)
            except ValueError as err:
                raise ConfigError(f'quality: {err}') from None

    @property
    def image_quality(self) -> int:
        """The quality handed to the image codec (-1 -> the codec's default)."""
        return DEFAULT_QUALITY.get(self.codec, 0) if self.quality < 0 else self.quality


@dataclass(frozen=True)
class EdgeConfig:
    """Validated parameters of ``edge_perception`` (see ``EDGE``)."""

    robot_namespaces: tuple[str, ...]
    checkpoints: tuple[str, ...]
    teacher_checkpoint: str
    serve_image_codecs: bool
    device: str
    top_k: int
    min_score: float
    max_batch: int
    publish_debug_image: bool
    overlay_alpha: float
    autostart: bool


def parse(table: tuple[Param, ...], cls: type, values: dict[str, Any]):
    """Validates ``values`` (name -> value; missing names take the default) into ``cls``.

    Raises:
        ConfigError: Unknown name, wrong type, out of range, or a failed check.
    """
    unknown = set(values) - {p.name for p in table}
    if unknown:
        raise ConfigError(f'unknown parameter(s) {sorted(unknown)}')
    kwargs = {}
    for p in table:
        value = values.get(p.name, p.default)
        value = _coerce(p, value)
        if p.range is not None and not (p.range[0] <= value <= p.range[1]):
            raise ConfigError(f'{p.name}: {value} is outside [{p.range[0]}, {p.range[1]}]')
        if p.check is not None:
            try:
                p.check(value)
            except ValueError as err:
                raise ConfigError(f'{p.name}: {err}') from None
        kwargs[p.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def _coerce(p: Param, value: Any) -> Any:
    want = type(p.default)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if want is list and isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise ConfigError(f'{p.name}: expected {want.__name__}, got {type(value).__name__} {value!r}')
    if want is float and not math.isfinite(value):
        raise ConfigError(f'{p.name}: {value} is not finite')
    if want is list and not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{p.name}: expected a list of strings, got {value!r}')
    return value


def defaults(table: tuple[Param, ...]) -> dict[str, Any]:
    """name -> default of every row (what config/*.yaml ships)."""
    return {p.name: p.default for p in table}


# --- rclpy glue ------------------------------------------------------------------------

def declare(node, table: tuple[Param, ...]) -> None:
    """Declares every row on ``node`` with its description and numeric range."""
    from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                    ParameterType)
    for p in table:
        desc = ParameterDescriptor(description=p.description)
        if isinstance(p.default, list):
            desc.type = ParameterType.PARAMETER_STRING_ARRAY
        if p.range is not None and isinstance(p.default, float):
            desc.floating_point_range = [FloatingPointRange(from_value=float(p.range[0]),
                                                            to_value=float(p.range[1]))]
        elif p.range is not None and isinstance(p.default, int) and not isinstance(p.default, bool):
            desc.integer_range = [IntegerRange(from_value=int(p.range[0]), to_value=int(p.range[1]), step=1)]
        node.declare_parameter(p.name, p.default, desc)


def read(node, table: tuple[Param, ...], cls: type):
    """Parses the node's current parameter values into ``cls`` (raises ``ConfigError``)."""
    return parse(table, cls, {p.name: node.get_parameter(p.name).value for p in table})


# --- checkpoint resolution -------------------------------------------------------------

def resolve_ladon_checkpoint(checkpoint: str, model: str = '', rate_point: float = 0.0) -> Path:
    """The Ladon checkpoint a node should load.

    Args:
        checkpoint: Explicit file ('' = a shipped one).
        model: Required model id ('' = any; the default model when picking a shipped one).
        rate_point: Shipped rate point to pick (0 = the default: the most accurate one).

    Raises:
        ConfigError: The file is of another model/kind, or no shipped file has that rate point.
    """
    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.weights import DEFAULT_LADON, default_checkpoint, ladon_rate_points
    if checkpoint:
        meta = read_metadata(checkpoint)
        if meta.kind != 'ladon':
            raise ConfigError(f'checkpoint: {checkpoint} is a {meta.kind} checkpoint, expected ladon')
        if model and meta.model_id != model:
            raise ConfigError(f'checkpoint: {checkpoint} is model {meta.model_id!r}, but model is {model!r}')
        if rate_point and not math.isclose(meta.rate_point, rate_point, rel_tol=1e-6):
            raise ConfigError(f'rate_point: {checkpoint} has rate point {meta.rate_point}, not {rate_point}')
        return Path(checkpoint)
    if not model and not rate_point:
        return default_checkpoint('ladon')
    model = model or DEFAULT_LADON
    points = ladon_rate_points(model)
    if rate_point:
        for path, meta in points:
            if math.isclose(meta.rate_point, rate_point, rel_tol=1e-6):
                return path
        raise ConfigError(f'rate_point: no shipped {model!r} checkpoint has rate point {rate_point}; '
                          f'shipped: {[m.rate_point for _, m in points]}')
    return default_checkpoint('ladon', model)



# --- shipped YAML ----------------------------------------------------------------------

NODE_TABLES = {
    'image_source': (IMAGE_SOURCE, 'Image source (robot side): synthetic | video | folder | camera.'),
    'camera_encoder': (CAMERA_ENCODER, 'Camera-side encoder (robot side).'),
    'edge_perception': (EDGE, 'Edge-side perception (base station).'),
}


def render_yaml(node: str) -> str:
    """The ``config/<node>.yaml`` text: every parameter, its default and description."""
    import json
    table, title = NODE_TABLES[node]
    lines = [f'# {title}', '# Every parameter with its default; generated from ladon_ros/ros/params.py',
             '# (render_yaml). "/**/" applies the block in any namespace (/robot1/...).',
             f'/**/{node}:', '  ros__parameters:']
    for p in table:
        v = p.default
        if isinstance(v, bool):
            text = 'true' if v else 'false'
        elif isinstance(v, str):
            text = v if v and v.replace('_', '').isalnum() else json.dumps(v)
        elif isinstance(v, list):
            text = '[' + ', '.join(json.dumps(x) for x in v) + ']'
        else:
            text = repr(v)
        rng = f' [{p.range[0]}..{p.range[1]}]' if p.range else ''
        lines += [f'    # {p.description}{rng}', f'    {p.name}: {text}']
    return '\n'.join(lines) + '\n'
