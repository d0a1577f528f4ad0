"""docs/topics.md is generated from ladon_ros/ros/topics.py, and that table is every topic the nodes use.

The node modules are read as source (AST): the topic argument of every ``create_publisher``,
``create_lifecycle_publisher`` and ``create_subscription`` call (a string, ``topic(ns, '...')``,
an f-string's fixed prefix, or a module constant) must be in ``TOPICS``, and every entry of
``TOPICS`` must be used by some node.
"""
from __future__ import annotations

import ast
from pathlib import Path

from ladon_ros.ros import qos
from ladon_ros.ros.topics import TOPICS, render_markdown

ROOT = Path(__file__).resolve().parents[1]
NODE_FILES = ('image_source_node', 'camera_encoder_node', 'edge_perception_node', 'rate_adapter_node',
              'robot_channel', 'diagnostics', 'fleet_view')
CREATORS = {'create_publisher', 'create_lifecycle_publisher', 'create_subscription'}


def topic_args(path: Path) -> list[tuple[str, bool]]:
    """(name, is_prefix) of every topic the module creates a publisher or subscription on."""
    tree = ast.parse(path.read_text())
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
              if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    aliases = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
               if isinstance(t, ast.Name) and isinstance(n.value, ast.Attribute) and n.value.attr in CREATORS}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ''
        if name not in CREATORS and name not in aliases:
            continue
        arg = node.args[1]
        if isinstance(arg, ast.Call) and getattr(arg.func, 'id', '') == 'topic':
            arg = arg.args[1]
        if isinstance(arg, ast.Constant):
            found.append((arg.value, False))
        elif isinstance(arg, ast.Name):
            found.append((consts[arg.id], False))
        elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
            found.append((arg.values[0].value, True))
        else:
            raise AssertionError(f'{path.name}:{node.lineno}: a topic this test cannot read')
    return found


def test_docs_topics_md_is_generated():
    text = (ROOT / 'docs' / 'topics.md').read_text()
    assert text == render_markdown(), 'docs/topics.md is stale: regenerate with ladon_ros.ros.topics.render_markdown'


def test_every_topic_of_the_nodes_is_in_the_table_and_back():
    names = {t.name for t in TOPICS}
    used = [u for f in NODE_FILES for u in topic_args(ROOT / 'ladon_ros' / 'ros' / f'{f}.py')]
    assert len(used) >= 15
    for name, prefix in used:
        if prefix:
            assert any(n.startswith(name) for n in names), name
        else:
            assert name in names, f'{name} is used by a node but missing in ladon_ros/ros/topics.py'
    for n in names:
        assert any(n == u or (p and n.startswith(u)) for u, p in used), f'{n} is in the table but no node uses it'


def test_every_qos_named_exists():
    for t in TOPICS:
        assert t.qos == 'heartbeat_qos()' or hasattr(qos, t.qos), t
