"""Node parameters: declared with descriptions/ranges, shipped YAML = defaults, clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ladon_ros.config import defaults, from_mapping
from ladon_ros.ros import params as P
from ladon_ros.weights import resolve_ladon_checkpoint
from ros_harness import Probe, ros_domain

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {node: cls for node, (cls, _) in P.NODE_CONFIGS.items()}


@pytest.mark.parametrize('node', sorted(CONFIGS))
def test_shipped_yaml_is_the_defaults(node):
    cls = CONFIGS[node]
    text = (ROOT / 'config' / f'{node}.yaml').read_text()
    assert text == P.render_yaml(node), 'config/*.yaml is stale: regenerate with params.render_yaml'
    doc = yaml.safe_load(text)
    assert list(doc) == [f'/**/{node}']
    values = doc[f'/**/{node}']['ros__parameters']
    assert values == defaults(cls)
    cfg = from_mapping(cls, values)
    assert cfg == from_mapping(cls, {}) == cls()


def test_parameter_docs_are_generated_from_the_configs():
    text = (ROOT / 'docs' / 'parameters.md').read_text()
    assert text == P.render_markdown(), 'docs/parameters.md is stale: regenerate with params.render_markdown'
    for node, cls in CONFIGS.items():
        assert f'## {node}' in text
        for p in P.params_of(cls):
            assert f'| `{p.name}` |' in text


@pytest.mark.parametrize('node, values, match', [
    ('camera_encoder', {'device': 'gpu'}, "device: 'gpu' is not a torch device"),
    ('rate_adapter', {'points': ['jpeg@0']}, r"points: bad encoder setting 'jpeg@0'"),
    ('rate_adapter', {'points': ['codec=jpeg,quality=50']}, 'points: bad encoder setting'),
    ('rate_adapter', {'points': ['jpeg@50'], 'start_point': 1}, 'start_point: 1 is not an index of points'),
    ('rate_adapter', {'budget_ms': 0.0}, 'budget_ms: 0.0 is outside'),
    ('camera_encoder', {'device': 'cuda:7'}, 'device'),
    ('camera_encoder', {'codec': 'h264'}, "codec: 'h264' is not one of"),
    ('camera_encoder', {'checkpoint': '/nonexistent/x.safetensors'}, 'checkpoint: checkpoint not found'),
    ('camera_encoder', {'checkpoint': 'weights.pt'}, 'checkpoint'),
    ('camera_encoder', {'model': 'resnet9000'}, "model: unknown model 'resnet9000'"),
    ('camera_encoder', {'model': 'teacher_small'}, 'unknown model'),
    ('camera_encoder', {'codec': 'jpeg', 'quality': 0}, r'quality: jpeg quality must be in \[1, 100\]'),
    ('camera_encoder', {'codec': 'png', 'quality': 50}, 'quality: png'),
    ('camera_encoder', {'rate_point': -1.0}, 'rate_point: -1.0 is outside'),
    ('camera_encoder', {'rate_point': float('nan')}, 'not finite'),
    ('camera_encoder', {'quality': 'high'}, 'quality: expected int'),
    ('image_source', {'rate_hz': 0.0}, 'rate_hz: 0.0 is outside'),
    ('image_source', {'mode': 'webcam'}, "mode: 'webcam' is not one of"),
    ('image_source', {'mode': 'video', 'path': '/nonexistent.mp4'}, 'video file'),
    ('image_source', {'mode': 'folder'}, 'needs a path'),
    ('edge_perception', {'robot_namespaces': []}, 'at least one namespace'),
    ('edge_perception', {'robot_namespaces': ['/robot 1']}, 'not a valid ROS namespace'),
    ('edge_perception', {'robot_namespaces': ['/a', '/a']}, 'duplicate'),
    ('edge_perception', {'checkpoints': ['/nonexistent.safetensors']}, 'checkpoints: checkpoint not found'),
    ('edge_perception', {'min_score': 1.5}, 'min_score: 1.5 is outside'),
    ('edge_perception', {'top_k': True}, 'top_k: expected int'),
    ('edge_perception', {'unknown_thing': 1}, 'unknown parameter'),
])
def test_invalid_values_are_refused(node, values, match):
    with pytest.raises(P.ConfigError, match=match):
        from_mapping(CONFIGS[node], values)


def test_rate_point_must_be_shipped_and_checkpoint_must_match_model(tmp_path, monkeypatch):
    monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path))
    with pytest.raises(P.ConfigError, match='rate_point: no shipped'):
        resolve_ladon_checkpoint('', 'ladon_small', 999.0)
    from ladon_ros.weights import random_checkpoint
    teacher = random_checkpoint('teacher_small')
    with pytest.raises(P.ConfigError, match='teacher checkpoint, expected ladon'):
        resolve_ladon_checkpoint(str(teacher))
    ladon = random_checkpoint('ladon_small')
    with pytest.raises(P.ConfigError, match="is model 'ladon_small', but model is 'ladon_resnet50'"):
        resolve_ladon_checkpoint(str(ladon), 'ladon_resnet50')
    assert resolve_ladon_checkpoint(str(ladon), 'ladon_small') == ladon


def test_declared_parameters_are_described_with_ranges():
    with Probe('param_probe', ros_domain('ros_params')) as probe:
        node = probe.node
        P.declare(node, P.CameraEncoderConfig)
        d = node.describe_parameters(['quality', 'rate_point', 'codec'])
        assert all(x.description for x in d)
        assert (d[0].integer_range[0].from_value, d[0].integer_range[0].to_value) == (-1, 100)
        assert d[1].floating_point_range[0].to_value == 1000.0
        assert P.read(node, P.CameraEncoderConfig).codec == 'ladon'


def test_the_rate_adapter_starts_where_a_default_camera_encoder_starts():
    # start_point -1: the index of the shipped default rate point (beta 1, the second shipped point),
    # so the adapter and an encoder with default parameters agree without anyone counting indexes.
    from ladon_ros.weights import default_checkpoint, shipped_camera_bundle
    cfg = from_mapping(P.RateAdapterConfig, {})
    assert cfg.start_point == -1
    settings = cfg.settings()
    assert settings[cfg.start_index()].checkpoint_path() == default_checkpoint('ladon')
    assert str(settings[cfg.start_index()]) == 'ladon@1'
    # The camera encoder's own default agrees: its checkpoint and its ONNX bundle are beta 1.
    assert resolve_ladon_checkpoint('', '', 0.0) == default_checkpoint('ladon')
    assert shipped_camera_bundle().name == default_checkpoint('ladon').stem
    # Explicit indexes are kept; a ladder without the default starts at its first point.
    assert from_mapping(P.RateAdapterConfig, {'start_point': 1}).start_index() == 1
    assert from_mapping(P.RateAdapterConfig, {'points': ['jpeg@50', 'jpeg@20']}).start_index() == 0
    with pytest.raises(P.ConfigError, match='start_point: -2 is outside'):
        from_mapping(P.RateAdapterConfig, {'start_point': -2})
