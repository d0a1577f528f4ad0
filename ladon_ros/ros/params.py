"""The parameters of every node: its config dataclass, and the rclpy glue around it.

Each node's parameters are the ``param`` fields of one frozen config dataclass
(``ladon_ros.config``: name, default, description, range and check written once).
``declare`` turns them into ROS parameters (with descriptions and numeric ranges, so
``ros2 param describe`` documents them); ``read`` validates the node's values into the
config with ``from_mapping`` (plain Python, so tested without a running node);
``render_yaml`` writes the shipped ``config/<node>.yaml``. Invalid values raise
``ConfigError`` at startup (or at lifecycle configure) with the parameter's name and what
is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from ladon_ros.codec.bitstream import CODEC_IDS
from ladon_ros.codec.image_codecs import DEFAULT_QUALITY, IMAGE_CODECS, check_quality
from ladon_ros.config import ConfigError, each, from_mapping, one_of, param, params_of

SOURCE_MODES = ('synthetic', 'video', 'folder', 'camera')

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


def _namespaces(values: tuple[str, ...]) -> None:
    if not values:
        raise ValueError("needs at least one namespace ('' = the node's own)")
    for ns in values:
        parts = [p for p in ns.strip('/').split('/') if p]
        if any(not (p[0].isalpha() or p[0] == '_') or not p.replace('_', 'a').isalnum() for p in parts):
            raise ValueError(f'{ns!r} is not a valid ROS namespace')
    if len(set(values)) != len(values):
        raise ValueError(f'duplicate namespaces in {values}')


def _patterns(values: tuple[str, ...]) -> None:
    for v in values:
        if v.startswith('!') and len(v) == 1:
            raise ValueError("'!' alone denies nothing; write '!<pattern>'")
        if v and not v.lstrip('!').startswith(('/', '*', '?', '[')):
            raise ValueError(f'{v!r}: patterns match absolute namespaces, start them with / or *')


# --- configs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageSourceConfig:
    """Validated parameters of ``image_source``."""

    mode: str = param('synthetic', "Where images come from: 'synthetic' (procedural scenes, no camera), "
                      "'video' (file at path), 'folder' (images in path, sorted by name), 'camera' (OpenCV index)",
                      check=one_of(*SOURCE_MODES))
    path: str = param('', "Video file ('video') or image folder ('folder')")
    camera_index: int = param(0, 'OpenCV / V4L2 camera index (/dev/video<N>)', range=(0, 63))
    rate_hz: float = param(5.0, 'Publish rate [Hz]', range=(0.1, 120.0))
    width: int = param(320, "Image width of 'synthetic' frames; other modes publish their native size [px]",
                       range=(32, 8192))
    height: int = param(240, "Image height of 'synthetic' frames [px]", range=(32, 8192))
    seed: int = param(0, "Seed of the 'synthetic' scene generator", range=(0, 2**31 - 1))
    synthetic_frames: int = param(0, "'synthetic': render this many scenes once and cycle through them (a test "
                                  'pattern that costs no rendering CPU, ~30 ms per 640x480 scene); 0 = a new '
                                  'scene every frame', range=(0, 10000))
    frame_id: str = param('camera_optical_frame', 'frame_id of the published images')
    loop: bool = param(True, "Restart a 'video' / 'folder' source at its end")
    max_frames: int = param(0, 'Stop publishing after this many frames (0 = never)', range=(0, 2**31 - 1))
    wait_for_subscribers: int = param(
        0, 'Publish only while image_raw has at least this many matched subscribers, '
        'so a bounded run (max_frames) loses no frame to DDS discovery (0 = always publish)', range=(0, 1000))

    def __post_init__(self):
        if self.mode in ('video', 'folder') and not self.path:
            raise ConfigError(f"path: mode {self.mode!r} needs a path")
        if self.mode == 'video' and not Path(self.path).is_file():
            raise ConfigError(f'path: video file {self.path!r} not found')
        if self.mode == 'folder' and not Path(self.path).is_dir():
            raise ConfigError(f'path: image folder {self.path!r} not found')


@dataclass(frozen=True)
class CameraEncoderConfig:
    """Validated parameters of ``camera_encoder``."""

    codec: str = param('ladon', f'Codec of the latent frames: {sorted(CODEC_IDS)}', check=one_of(*CODEC_IDS))
    checkpoint: str = param('', "Ladon checkpoint (.safetensors); '' = shipped default of `model`",
                            check=check_checkpoint_file)
    model: str = param('', "Ladon model id the checkpoint must be; '' = any (default model when checkpoint is '')",
                       check=check_model)
    rate_point: float = param(0.0, "Shipped rate point (beta) to use when checkpoint is ''; "
                              "0 = the shipped default (beta 1: the teacher's accuracy at under half of WebP's bytes; "
                              'docs/TRAINING.md)',
                              range=(0.0, 1000.0))
    quality: int = param(-1, 'Image codec quality (jpeg/webp 1..100, png 0..9); -1 = codec default',
                         range=(-1, 100))
    device: str = param('cpu', "Torch device of the encoder ('cpu', 'cuda', 'cuda:0')", check=check_device)
    backend: str = param('onnx', "'onnx' (an exported camera bundle on onnxruntime; no torch; a checkpoint "
                         "without a bundle runs on torch) or 'torch' (the checkpoint on torch)",
                         check=one_of('torch', 'onnx'))
    onnx_dir: str = param('', "Exported camera folder (camera.json) for backend 'onnx'; '' = the bundle "
                          'shipped with the checkpoint that checkpoint/model/rate_point select')
    threads: int = param(1, "ONNX Runtime intra-op threads (backend 'onnx')", range=(1, 64))
    autostart: bool = param(True, 'Configure and activate on start (no lifecycle manager needed)')

    def __post_init__(self):
        if self.backend == 'onnx' and self.onnx_dir and not (Path(self.onnx_dir) / 'camera.json').is_file():
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
    """Validated parameters of ``edge_perception``."""

    discover_robots: bool = param(True, 'Serve every robot found in the ROS graph (a <ns>/latent publisher of '
                                  'LatentFrame) that robot_patterns allows; false = exactly robot_namespaces')
    robot_namespaces: tuple[str, ...] = param([''], "Static robot list (discover_robots false); '' = this "
                                              "node's own namespace", check=_namespaces)
    robot_patterns: tuple[str, ...] = param(['*'], "Namespaces that may be served (fnmatch; '*' also crosses "
                                            "'/'); a leading '!' denies, e.g. ['/warehouse/*', '!/warehouse/test*']",
                                            check=_patterns)
    robot_timeout_s: float = param(5.0, 'A discovered robot whose latent publisher is gone this long is dropped '
                                   '(its topics and counters released) [s]', range=(0.5, 3600.0))
    edge_id: str = param('', "This edge's unique, stable name in the fleet; '' = host name + node name")
    standby: bool = param(False, 'Hot standby: weights loaded, serves no robot until a serving edge is lost')
    pinned_robots: tuple[str, ...] = param([''], "Robot namespace patterns pinned to this edge (operator "
                                           "override of the hashing); [''] = none", check=_patterns)
    heartbeat_period_s: float = param(0.1, 'Period of this edge\'s heartbeat on /ladon/edges [s]',
                                      range=(0.02, 5.0))
    edge_timeout_s: float = param(0.4, 'An edge not heard for this long is gone and its robots move; also '
                                  'the heartbeat liveliness lease [s]', range=(0.05, 60.0))
    # 'none' by default: on a fleet whose robots share a slow link, one copy of each frame on
    # the link is worth more than the ~0.1-0.3 s a takeover saves by skipping the DDS match
    # (docs/FLEET.md, "Takeover"; docs/FLEET_BENCH.md measures both).
    takeover_subscriptions: str = param('none', "Robots this edge subscribes to ahead of need, so a takeover "
                                        "needs no new DDS match: 'none' (subscribe on takeover; one copy of "
                                        "each frame on the link), 'backup' (those it would take over if their "
                                        "owner died; each robot's latents then cross its link twice), 'all' "
                                        "(every robot, to every edge)",
                                        check=one_of('backup', 'all', 'none'))
    max_image_side: int = param(4096, 'Frames claiming a larger camera image side are refused [px]',
                                range=(32, 16384))
    max_mask_side: int = param(1920, 'Label maps of larger images are scaled down to this side [px]',
                               range=(32, 16384))
    quarantine_after: int = param(20, 'A robot that sent this many frames since its last served one, the last '
                                  'checked ones all refused, is not received for quarantine_s (doubling on '
                                  'repeats, at most 16x; after one, its first refused frame is enough): its '
                                  'garbage costs the edge nothing meanwhile (0 = never)',
                                  range=(0, 100000))
    quarantine_s: float = param(5.0, 'First quarantine of a robot whose frames are all refused [s]',
                                range=(0.1, 3600.0))
    verify_encoding: bool = param(True, 'Refuse Ladon bodies that are not the exact encoding of the symbols they '
                                  'decode to (a broken or hostile encoder); costs ~5 % of decode time')
    checkpoints: tuple[str, ...] = param([''], "Ladon checkpoints (rate points) to serve; [''] = the shipped default",
                                         check=each(check_checkpoint_file))
    teacher_checkpoint: str = param('', "Teacher checkpoint for image-codec frames; '' = shipped default",
                                    check=check_checkpoint_file)
    serve_image_codecs: bool = param(True, 'Load the teacher so raw/jpeg/png/webp frames are served too')
    device: str = param('cpu', "Device of decoder, body and heads ('cpu', 'cuda', 'cuda:0'; onnx: the CUDA "
                        "execution provider)", check=check_device)
    backend: str = param('onnx', "Engine of decoder, body and heads: 'onnx' (the checkpoint's edge bundle on ONNX "
                         "Runtime, no torch; a checkpoint without one falls back to torch with a warning) or "
                         "'torch'", check=one_of('onnx', 'torch'))
    int8: bool = param(False, 'onnx: run the int8 body (static QDQ, per-channel; accuracy in docs/BENCHMARKS.md)')
    threads: int = param(1, 'Intra-op threads of ONNX Runtime (per graph) and torch; more than 1 only on cores '
                         'the edge has to itself (on shared cores idle OpenMP workers spin: ~10x the CPU per frame '
                         'measured)', range=(1, 64))
    top_k: int = param(5, 'Classification hypotheses per frame', range=(1, 100))
    min_score: float = param(0.3, 'Detections scoring below this are not published', range=(0.0, 1.0))
    max_batch: int = param(8, 'Most frames (from several robots) run through the heads at once', range=(1, 64))
    # 20 ms: under overload a frame waits ~0.1-0.2 s in the queue anyway; a pause of a fraction of
    # that takes every robot's newest frame in one executor wake (ladon_ros.fleet.pacing).
    receive_pause_ms: float = param(20.0, 'While max_batch frames already wait (the edge is saturated), the receive '
                                    'thread pauses up to this long after each 5 ms of receiving, ending when the '
                                    "worker takes a batch: newer frames wait in each robot's keep-last-1 DDS reader "
                                    'and are taken in one executor wake instead of one wake each (the wake is what '
                                    'costs) [ms]; 0 = never pause', range=(0.0, 1000.0))
    publish_debug_image: bool = param(True, 'Publish perception/debug_image (boxes, labels, blended mask)')
    overlay_alpha: float = param(0.5, 'Opacity of the mask in the overlay and debug images', range=(0.0, 1.0))
    autostart: bool = param(True, 'Configure and activate on start (no lifecycle manager needed)')


# --- rate_adapter ----------------------------------------------------------------------

def check_encoder_setting(value: str) -> None:
    """'' or an encoder setting (``ladon@0.25``, ``ladon:/x.safetensors``, ``jpeg@50``; ladon_ros.rate.setting)."""
    if value:
        from ladon_ros.rate.setting import EncoderSetting
        EncoderSetting.parse(value)


@dataclass(frozen=True)
class RateAdapterConfig:
    """Validated parameters of ``rate_adapter``."""

    points: tuple[str, ...] = param(
        [''], "Rate points the encoder switches between, as encoder settings (ladon@<beta>, "
        "ladon:<checkpoint>, jpeg@<quality>, raw, ...); [''] = every trained shipped Ladon rate point",
        check=each(check_encoder_setting))
    start_point: int = param(-1, 'Index in points of the setting the camera encoder was started with; -1 = '
                             "the camera_encoder's default (the shipped default rate point when it is among "
                             'points, else 0)', range=(-1, 1000))
    budget_ms: float = param(250.0, 'End-to-end latency budget, capture -> results [ms]', range=(1.0, 60000.0))
    camera_fps: float = param(5.0, "Frames per second the camera offers (image_source rate_hz) [Hz]",
                              range=(0.1, 120.0))
    edge_ms: float = param(50.0, "Edge compute per frame until the edge's frame_stats measure it [ms]",
                           range=(0.0, 10000.0))
    encoder_node: str = param('camera_encoder', 'Name of the camera_encoder node it drives (same namespace)')

    def __post_init__(self):
        n = len(self.settings())
        if self.start_point >= n:
            raise ConfigError(f'start_point: {self.start_point} is not an index of points (0..{n - 1})')

    def start_index(self) -> int:
        """``start_point``, with -1 resolved to where a camera_encoder with default parameters starts."""
        if self.start_point >= 0:
            return self.start_point
        from ladon_ros.weights import default_checkpoint
        default = default_checkpoint('ladon').resolve()
        for i, s in enumerate(self.settings()):
            if s.codec == 'ladon' and s.checkpoint_path().resolve() == default:
                return i
        return 0

    def settings(self) -> list:
        """The rate points as ``EncoderSetting``s (the shipped Ladon ones for [''])."""
        from ladon_ros.rate.points import shipped_points
        from ladon_ros.rate.setting import LADON, EncoderSetting
        given = [EncoderSetting.parse(p) for p in self.points if p]
        return given or shipped_points() or [EncoderSetting(LADON)]


def rate_adapter_checkpoints(params_file: str | Path) -> list[str]:
    """The Ladon checkpoints an edge must serve for the rate points of a ``rate_adapter`` params file.

    Raises:
        ConfigError: The file's values are invalid.
    """
    import yaml
    blocks = yaml.safe_load(Path(params_file).read_text()) or {}
    values = {k: v for name, block in blocks.items() if name.rstrip('/').split('/')[-1] in ('rate_adapter', '**')
              for k, v in (block or {}).get('ros__parameters', {}).items()}
    settings = from_mapping(RateAdapterConfig, values).settings()
    return sorted({str(s.checkpoint_path()) for s in settings if s.codec == 'ladon'}) or ['']


# --- rclpy glue ------------------------------------------------------------------------

def declare(node, cls: type) -> None:
    """Declares every parameter of config ``cls`` on ``node`` with its description and numeric range."""
    from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                    ParameterType)
    for p in params_of(cls):
        desc = ParameterDescriptor(description=p.description)
        default = p.default
        if isinstance(default, tuple):
            desc.type = ParameterType.PARAMETER_STRING_ARRAY
            default = list(default)
        if p.range is not None and p.type is float:
            desc.floating_point_range = [FloatingPointRange(from_value=float(p.range[0]),
                                                            to_value=float(p.range[1]))]
        elif p.range is not None and p.type is int:
            desc.integer_range = [IntegerRange(from_value=int(p.range[0]), to_value=int(p.range[1]), step=1)]
        node.declare_parameter(p.name, default, desc)


def read(node, cls: type):
    """The node's current parameter values validated into ``cls`` (raises ``ConfigError``)."""
    return from_mapping(cls, {p.name: node.get_parameter(p.name).value for p in params_of(cls)})


# --- shipped YAML ----------------------------------------------------------------------

NODE_CONFIGS = {
    'image_source': (ImageSourceConfig, 'Image source (robot side): synthetic | video | folder | camera.'),
    'camera_encoder': (CameraEncoderConfig, 'Camera-side encoder (robot side).'),
    'edge_perception': (EdgeConfig, 'Edge-side perception (base station).'),
    'rate_adapter': (RateAdapterConfig, 'Rate adapter (robot side): the camera encoder follows the link.'),
}


def render_yaml(node: str) -> str:
    """The ``config/<node>.yaml`` text: every parameter, its default and description."""
    import json
    cls, title = NODE_CONFIGS[node]
    lines = [f'# {title}', '# Every parameter with its default; generated from ladon_ros/ros/params.py',
             '# (render_yaml). "/**/" applies the block in any namespace (/robot1/...).',
             f'/**/{node}:', '  ros__parameters:']
    for p in params_of(cls):
        v = list(p.default) if isinstance(p.default, tuple) else p.default
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


def render_markdown() -> str:
    """``docs/parameters.md``: one table per node, every parameter with its type, default,
    range and description, generated from the config dataclasses (as ``render_yaml``)."""
    import json
    lines = ['# Node parameters', '',
             'Generated from the config dataclasses in `ladon_ros/ros/params.py` (`render_markdown`); '
             '`test/test_ros_params.py` fails when this file is stale. The shipped `config/<node>.yaml` '
             'files hold the same defaults. Topics and QoS: [ros_nodes.md](ros_nodes.md).', '']
    for node, (cls, title) in NODE_CONFIGS.items():
        lines += [f'## {node}', '', title, '', '| parameter | type | default | range | description |',
                  '|---|---|---|---|---|']
        for p in params_of(cls):
            v = list(p.default) if isinstance(p.default, tuple) else p.default
            default = '(required)' if p.required else f'`{json.dumps(v)}`'
            rng = f'{p.range[0]}..{p.range[1]}' if p.range else ''
            typ = getattr(p.type, '__name__', str(p.type)).replace('|', '\\|')
            desc = p.description.replace('|', '\\|').replace('\n', ' ')
            lines.append(f'| `{p.name}` | {typ} | {default} | {rng} | {desc} |')
        lines.append('')
    return '\n'.join(lines)
