"""launch/split_perception.launch.py and rviz/ladon.rviz name only things that exist.

`launch` / `launch_ros` are not installable here, so the launch file is read with `ast` and
also run against small stand-ins of the few launch classes it uses; the parameters it sets
and the params files it loads are checked against the nodes' declared parameter tables
(the config dataclasses of ladon_ros/ros/params.py), executables against the colcon install space, topics of the
.rviz file against docs/CONTRACTS.md.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import os
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / 'launch' / 'split_perception.launch.py'
RVIZ = ROOT / 'rviz' / 'ladon.rviz'
CONTRACTS = (ROOT / 'docs' / 'CONTRACTS.md').read_text()
PACKAGE = 'ladon_ros'
REQUIRED_ARGS = {'namespace', 'source', 'codec', 'checkpoint', 'device', 'rviz',
                 'image_source_params', 'camera_encoder_params', 'edge_perception_params',
                 'rate_adapter', 'rate_adapter_params'}


def contract_executables() -> dict[str, dict[str, str]]:
    """executable -> {module, function, node, params} from the CONTRACTS.md table."""
    rows = re.findall(r'^\| `(\w+)` \| `([\w.]+):(\w+)` \| `(\w+)` \| `([\w/.]+)` \|$', CONTRACTS, re.M)
    return {exe: dict(module=mod, function=fn, node=node, params=params)
            for exe, mod, fn, node, params in rows}


def contract_topics() -> dict[str, str]:
    """Topic (namespace-relative, no leading '/') -> the type word that follows it."""
    section = CONTRACTS.split('## Topics', 1)[1].split('\n## ', 1)[0]
    topics = {}
    for name, after in re.findall(r'`([^`]+)`\s*([^`,\n]*)', section):
        if '/' in name and ' ' not in name or re.fullmatch(r'[a-z_]+', name):
            key = name.replace('<ns>/', '').lstrip('/')
            topics[key] = (after.strip().lstrip('(').split() or [''])[0].rstrip(':,)')
    return topics


def node_configs() -> dict[str, type]:
    """executable -> the config dataclass its node's source imports from ladon_ros.ros.params."""
    from ladon_ros.config import params_of
    from ladon_ros.ros import params
    configs = {n: v for n, v in vars(params).items()
               if isinstance(v, type) and dataclasses.is_dataclass(v) and params_of(v)}
    out = {}
    for exe, row in contract_executables().items():
        source = ROOT / Path(*row['module'].split('.')).with_suffix('.py')
        imported = {a.name for node in ast.walk(ast.parse(source.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module == 'ladon_ros.ros.params'
                    for a in node.names}
        found = [configs[n] for n in imported if n in configs]
        assert len(found) == 1, f'{source.name} should import exactly one config dataclass, found {found}'
        out[exe] = found[0]
    return out


def declared(cls: type) -> set[str]:
    """The parameter names a node with config ``cls`` declares."""
    from ladon_ros.config import params_of
    return {p.name for p in params_of(cls)}


# --- static: what the launch file's source names --------------------------------------

def launch_nodes_ast() -> list[dict]:
    """Every Node(...) call: its constant keyword arguments and its parameter-dict keys."""
    tree = ast.parse(LAUNCH.read_text())
    constants = {t.id: a.value.value for a in tree.body if isinstance(a, ast.Assign)
                 and isinstance(a.value, ast.Constant) for t in a.targets if isinstance(t, ast.Name)}

    def const(node):
        return constants[node.id] if isinstance(node, ast.Name) else node.value

    nodes = []
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, 'id', None) == 'Node':
            kw = {k.arg: k.value for k in call.keywords}
            keys = [const(k) for p in getattr(kw.get('parameters'), 'elts', []) if isinstance(p, ast.Dict)
                    for k in p.keys]
            nodes.append({'package': const(kw['package']), 'executable': const(kw['executable']),
                          'name': const(kw['name']), 'keys': keys})
    return nodes


def test_contract_table_is_parsed():
    assert set(contract_executables()) == {'image_source', 'camera_encoder', 'edge_perception', 'rate_adapter'}


def test_every_contract_executable_is_installed_and_wired(install_space):
    entry_points = (ROOT / 'setup.py').read_text()
    for exe, row in contract_executables().items():
        launcher = install_space / 'lib' / PACKAGE / exe
        assert launcher.is_file() and os.access(launcher, os.X_OK), f'{launcher} missing: make setup'
        assert f"from {row['module']} import {row['function']}" in launcher.read_text()
        source = ROOT / Path(*row['module'].split('.')).with_suffix('.py')
        assert re.search(rf'^def {row["function"]}\(', source.read_text(), re.M), f'{source}: no {row["function"]}()'
        assert f"'{exe} = {row['module']}:{row['function']}'" in entry_points, f'setup.py lacks {exe}'
        assert (ROOT / row['params']).is_file(), row['params']


def test_launch_nodes_are_contract_executables_with_declared_parameters():
    contract, configs = contract_executables(), node_configs()
    ours = [n for n in launch_nodes_ast() if n['package'] == PACKAGE]
    assert {n['executable'] for n in ours} == set(contract)
    for node in ours:
        assert node['name'] == contract[node['executable']]['node']
        names = declared(configs[node['executable']])
        assert node['keys'] and set(node['keys']) <= names, \
            f"{node['executable']}: {set(node['keys']) - names} not declared by the node"


def test_shipped_params_files_are_declared_and_valid():
    from ladon_ros.config import from_mapping
    for exe, cls in node_configs().items():
        values = params_file_values(ROOT / contract_executables()[exe]['params'], exe)
        assert set(values) <= declared(cls)
        from_mapping(cls, values)  # raises ConfigError on a bad shipped value


def params_file_values(path: Path, node_name: str) -> dict:
    """ros__parameters of the block for ``node_name`` ('/**' wildcards allowed)."""
    data = yaml.safe_load(path.read_text())
    blocks = [v['ros__parameters'] for k, v in data.items()
              if k.rstrip('/').split('/')[-1] in (node_name, '**')]
    assert blocks, f'{path.name} has no ros__parameters block for {node_name}'
    return {k: v for b in blocks for k, v in b.items()}


# --- dynamic: run the launch file against stand-ins of launch / launch_ros --------------

class _Sub:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration(_Sub):
    def perform(self, context):
        return context[self.args[0]]


def _fake_launch_modules(share: Path) -> dict[str, types.ModuleType]:
    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        return m

    class DeclareLaunchArgument(_Sub):
        pass

    class OpaqueFunction(_Sub):
        pass

    class Node(_Sub):
        pass

    class LaunchDescription(_Sub):
        pass

    class FindPackageShare(_Sub):
        pass

    class PathJoinSubstitution(_Sub):
        pass

    return {
        'launch': mod('launch', LaunchDescription=LaunchDescription),
        'launch.actions': mod('launch.actions', DeclareLaunchArgument=DeclareLaunchArgument,
                              OpaqueFunction=OpaqueFunction),
        'launch.substitutions': mod('launch.substitutions', LaunchConfiguration=_LaunchConfiguration,
                                    PathJoinSubstitution=PathJoinSubstitution),
        'launch.conditions': mod('launch.conditions'),
        'launch_ros': mod('launch_ros'),
        'launch_ros.actions': mod('launch_ros.actions', Node=Node),
        'launch_ros.substitutions': mod('launch_ros.substitutions', FindPackageShare=FindPackageShare),
    }


def _evaluate(value, share_root: Path) -> str:
    """A default value: a string or PathJoinSubstitution([FindPackageShare(pkg), 'a', 'b'])."""
    if isinstance(value, str):
        return value
    parts = [share_root / p.args[0] if isinstance(p, _Sub) else p for p in value.args[0]]
    return str(Path(*parts))


@pytest.fixture(scope='module')
def launch_file(install_space):
    share_root = install_space / 'share'
    saved = {k: sys.modules.get(k) for k in _fake_launch_modules(share_root)}
    sys.modules.update(_fake_launch_modules(share_root))
    try:
        spec = importlib.util.spec_from_file_location('split_perception_launch', LAUNCH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        description = module.generate_launch_description()
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    entities = description.args[0]
    args = {e.args[0]: e.kwargs for e in entities if type(e).__name__ == 'DeclareLaunchArgument'}
    functions = [e.kwargs['function'] for e in entities if type(e).__name__ == 'OpaqueFunction']
    defaults = {n: _evaluate(kw['default_value'], share_root) for n, kw in args.items()}
    return args, functions, defaults


def _run(launch_file, **overrides) -> list:
    args, functions, defaults = launch_file
    unknown = set(overrides) - set(args)
    assert not unknown, unknown
    context = {**defaults, **overrides}
    return [node for fn in functions for node in fn(context)]


def test_launch_arguments_are_documented(launch_file):
    from ladon_ros.codec.bitstream import CODEC_IDS
    from ladon_ros.ros.params import SOURCE_MODES
    args, _, _ = launch_file
    assert REQUIRED_ARGS <= set(args)
    for name, kw in args.items():
        assert len(kw.get('description') or '') > 10, f'launch argument {name} needs a description'
    assert set(args['source']['choices']) == set(SOURCE_MODES)
    assert set(args['codec']['choices']) == set(CODEC_IDS)


@pytest.mark.parametrize('overrides', [{}, {'rviz': 'true', 'namespace': 'robot7', 'codec': 'jpeg'},
                                       {'namespace': '', 'source': 'camera', 'camera_index': '2'},
                                       {'rate_adapter': 'true'}],
                         ids=['defaults', 'rviz-robot7-jpeg', 'root-camera', 'rate-adapter'])
def test_launched_nodes_exist_and_their_parameters_validate(launch_file, install_space, overrides):
    from ladon_ros.config import from_mapping
    configs = node_configs()
    nodes = _run(launch_file, **overrides)
    ours = [n.kwargs for n in nodes if n.kwargs['package'] == PACKAGE]
    adapt = overrides.get('rate_adapter') == 'true'
    assert sorted(n['executable'] for n in ours) == sorted(e for e in contract_executables()
                                                           if adapt or e != 'rate_adapter')
    for kw in ours:
        exe = kw['executable']
        assert os.access(install_space / 'lib' / PACKAGE / exe, os.X_OK), exe
        values = {}
        for item in kw['parameters']:
            if isinstance(item, dict):
                values.update(item)
            else:
                path = Path(item)
                assert path.is_file(), f'{exe}: params file {path} is not installed'
                values.update(params_file_values(path, kw['name']))
        if exe == 'image_source' and values.get('mode') in ('video', 'folder'):
            continue  # needs a real path; covered by the params tests of the node
        config = from_mapping(configs[exe], values)
        if exe == 'edge_perception':
            assert config.discover_robots and config.robot_patterns == ('*',)  # serves this robot and the fleet
            # With the adapter the edge serves the checkpoint of every Ladon rate point it may pick.
            want = {str(s.checkpoint_path()) for s in from_mapping(configs['rate_adapter'], {}).settings()}
            assert len(config.checkpoints) == (len(want) if adapt else 1)
            assert not adapt or set(config.checkpoints) == want
        else:
            assert kw['namespace'] == overrides.get('namespace', 'robot1')
        if exe == 'camera_encoder':
            assert kw['remappings'] == ([('image_raw', 'image_gated')] if adapt else [])
    rviz = [n.kwargs for n in nodes if n.kwargs['package'] == 'rviz2']
    if overrides.get('rviz') == 'true':
        assert len(rviz) == 1 and Path(rviz[0]['arguments'][1]).is_file()
    else:
        assert rviz == []


def test_rviz_displays_contract_topics_of_the_default_namespace():
    topics = contract_topics()
    assert 'perception/debug_image' in topics and 'latent' in topics
    displays = yaml.safe_load(RVIZ.read_text())['Visualization Manager']['Displays']
    shown = {d['Topic']['Value']: d['Class'] for d in displays if 'Topic' in d}
    assert '/robot1/perception/debug_image' in shown
    for topic, cls in shown.items():
        assert topic.startswith('/robot1/'), f'{topic}: the .rviz file shows the default namespace robot1'
        key = topic[len('/robot1/'):]
        assert key in topics, f'{topic} is not a topic of docs/CONTRACTS.md'
        if cls == 'rviz_default_plugins/Image':
            assert topics[key] in ('Image', 'sensor_msgs/Image'), f'{topic} is {topics[key]}, not an Image'


def test_installed_share_matches_the_sources(install_space):
    share = install_space / 'share' / PACKAGE
    sources = [LAUNCH, RVIZ, *sorted((ROOT / 'config').glob('*.yaml')), ROOT / 'config' / 'fastdds_fleet.xml']
    for src in sources:
        installed = share / src.relative_to(ROOT)
        assert installed.is_file(), f'{installed} is not installed: run `make setup`'
        assert installed.read_bytes() == src.read_bytes(), f'{installed} is stale: run `make setup`'


@pytest.mark.parametrize('profile,preset,expect', [
    ('fleet', None, 'FLEET'), ('', None, None), ('/etc/my_dds.xml', None, '/etc/my_dds.xml'),
    ('fleet', '/site/dds.xml', None)], ids=['fleet', 'off', 'own-file', 'user-env-wins'])
def test_nodes_get_the_fleet_dds_profile_unless_the_user_chose_one(launch_file, monkeypatch, profile, preset,
                                                                     expect):
    from ladon_ros.config_files import fleet_profile
    monkeypatch.delenv('FASTRTPS_DEFAULT_PROFILES_FILE', raising=False)
    if preset:
        monkeypatch.setenv('FASTDDS_DEFAULT_PROFILES_FILE', preset)
    else:
        monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE', raising=False)
    ours = [n.kwargs for n in _run(launch_file, dds_profile=profile) if n.kwargs['package'] == PACKAGE]
    want = str(fleet_profile()) if expect == 'FLEET' else expect
    for kw in ours:
        assert kw['additional_env'].get('FASTDDS_DEFAULT_PROFILES_FILE') == want, kw['executable']
    assert fleet_profile().is_file()
