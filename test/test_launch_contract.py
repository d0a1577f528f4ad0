"""launch/split_perception.launch.py, launch/fleet.launch.py and rviz/ladon.rviz name only things that exist.

Both launch files build their nodes with ladon_ros/ros/launch_builder.py. `launch` / `launch_ros`
need not be installed here, so the builder is read with `ast` and the launch files are also run
against small stand-ins of the few launch classes they use; the parameters they set
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
FLEET = ROOT / 'launch' / 'fleet.launch.py'
BUILDER = ROOT / 'ladon_ros' / 'ros' / 'launch_builder.py'
BUILDER_MODULE = 'ladon_ros.ros.launch_builder'
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

def launch_nodes_ast(path: Path = BUILDER) -> list[dict]:
    """Every Node(...) call: its constant keyword arguments and the keys of its literal parameter dicts."""
    tree = ast.parse(path.read_text())
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
    """The builder's nodes; the parameters each launch file passes it are validated by the
    dynamic tests below (every value through the node's config dataclass)."""
    contract, configs = contract_executables(), node_configs()
    ours = [n for n in launch_nodes_ast(BUILDER) if n['package'] == PACKAGE]
    assert {n['executable'] for n in ours} == set(contract)
    for node in ours:
        assert node['name'] == contract[node['executable']]['node']
        names = declared(configs[node['executable']])
        assert set(node['keys']) <= names, f"{node['executable']}: {set(node['keys']) - names} not declared by the node"


@pytest.mark.parametrize('path', [LAUNCH, FLEET], ids=lambda p: p.name)
def test_launch_files_build_the_package_nodes_with_the_builder(path):
    text = path.read_text()
    assert 'from ladon_ros.ros import launch_builder' in text
    assert not [n for n in launch_nodes_ast(path) if n['package'] not in ('rviz2',)], \
        f'{path.name} writes its own Node(...) of the package: use ladon_ros/ros/launch_builder.py'
    assert "['ladon', 'raw'" not in text and "['synthetic', 'video'" not in text, 'choices retyped'


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

    class ExecuteProcess(_Sub):
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
                              OpaqueFunction=OpaqueFunction, ExecuteProcess=ExecuteProcess),
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


def _load(path: Path, install_space: Path):
    """(arguments, opaque functions, evaluated defaults) of the launch file at ``path``.

    The builder module is imported afresh under the stand-ins (and forgotten after), so it
    binds them whatever imported it before.
    """
    import ladon_ros.ros as ros_pkg
    share_root = install_space / 'share'
    saved = {k: sys.modules.get(k) for k in [*_fake_launch_modules(share_root), BUILDER_MODULE]}
    saved_attr = ros_pkg.__dict__.pop('launch_builder', None)
    sys.modules.update(_fake_launch_modules(share_root))
    sys.modules.pop(BUILDER_MODULE, None)
    try:
        spec = importlib.util.spec_from_file_location(path.name.replace('.', '_'), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        description = module.generate_launch_description()
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        ros_pkg.__dict__.pop('launch_builder', None)
        if saved_attr is not None:
            ros_pkg.launch_builder = saved_attr
    entities = description.args[0]
    args = {e.args[0]: e.kwargs for e in entities if type(e).__name__ == 'DeclareLaunchArgument'}
    functions = [e.kwargs['function'] for e in entities if type(e).__name__ == 'OpaqueFunction']
    defaults = {n: _evaluate(kw['default_value'], share_root) for n, kw in args.items()}
    return args, functions, defaults


@pytest.fixture(scope='module')
def launch_file(install_space):
    return _load(LAUNCH, install_space)


@pytest.fixture(scope='module')
def fleet_launch(install_space):
    return _load(FLEET, install_space)


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
    sources = [LAUNCH, FLEET, RVIZ, *sorted((ROOT / 'config').glob('*.yaml')), ROOT / 'config' / 'fastdds_fleet.xml']
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


# --- launch/fleet.launch.py -----------------------------------------------------------

def _node_config(kw: dict, configs: dict):
    """The node's parameters (params files, then the launch's overrides) validated into its config."""
    from ladon_ros.config import from_mapping
    values = {}
    for item in kw['parameters']:
        if isinstance(item, dict):
            values.update(item)
        else:
            assert Path(item).is_file(), f"{kw['executable']}: params file {item} is not installed"
            values.update(params_file_values(Path(item), kw['name']))
    assert set(values) <= declared(configs[kw['executable']])
    return from_mapping(configs[kw['executable']], values)


def test_fleet_launch_arguments_are_documented(fleet_launch):
    from ladon_ros.codec.bitstream import CODEC_IDS
    args, _, _ = fleet_launch
    assert {'robots', 'edges', 'standby', 'discovery_server', 'discovery_address', 'discovery_port',
            'discovery_servers', 'codec',
            'checkpoint', 'device', 'dds_profile', 'image_source_params', 'camera_encoder_params',
            'edge_perception_params'} <= set(args)
    for name, kw in args.items():
        assert len(kw.get('description') or '') > 10, f'launch argument {name} needs a description'
    assert set(args['codec']['choices']) == set(CODEC_IDS)
    for flag in ('standby', 'discovery_server'):
        assert set(args[flag]['choices']) == {'true', 'false'}


@pytest.mark.parametrize('overrides', [
    {}, {'robots': '2', 'edges': '3', 'standby': 'true', 'discovery_server': 'true'},
    {'robots': '0', 'edges': '1', 'discovery_server': 'true', 'discovery_address': '10.0.0.5',
     'discovery_port': '11812'},
    {'robots': '3', 'edges': '0', 'codec': 'jpeg'}],
    ids=['defaults', 'standby-discovery-server', 'base-only', 'robots-only-jpeg'])
def test_fleet_launch_starts_n_robots_m_edges_with_valid_parameters(fleet_launch, install_space, monkeypatch,
                                                                    overrides):
    import shutil
    monkeypatch.delenv('ROS_DISCOVERY_SERVER', raising=False)
    monkeypatch.delenv('FASTDDS_BUILTIN_TRANSPORTS', raising=False)
    configs = node_configs()
    _, _, defaults = fleet_launch
    arg = {**defaults, **overrides}
    actions = _run(fleet_launch, **overrides)
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert all(n['package'] == PACKAGE and os.access(install_space / 'lib' / PACKAGE / n['executable'], os.X_OK)
               for n in nodes)
    robots, edges = int(arg['robots']), int(arg['edges'])
    spaces = {exe: [n['namespace'] for n in nodes if n['executable'] == exe]
              for exe in ('image_source', 'camera_encoder', 'edge_perception')}
    want_robots = [f'robot{k}' for k in range(1, robots + 1)]
    assert spaces['image_source'] == spaces['camera_encoder'] == want_robots
    want_edges = [f'base{j}' for j in range(1, edges + 1)] + (['standby'] if arg['standby'] == 'true' else [])
    assert spaces['edge_perception'] == want_edges
    assert len(nodes) == 2 * robots + len(want_edges)
    seeds, edge_ids = set(), set()
    for kw in nodes:
        config = _node_config(kw, configs)
        assert kw['name'] == kw['executable']
        if kw['executable'] == 'image_source':
            assert config.mode == 'synthetic' and config.rate_hz == float(arg['rate_hz'])
            seeds.add(config.seed)
        elif kw['executable'] == 'camera_encoder':
            assert config.codec == arg['codec']
        else:
            assert config.discover_robots and config.robot_patterns == ('*',)
            assert config.standby == (kw['namespace'] == 'standby')
            assert config.serve_image_codecs == (arg['codec'] != 'ladon')
            # edge_id '' = host name + fully qualified node name: distinct per namespace.
            edge_ids.add(config.edge_id or f"/{kw['namespace']}/{kw['name']}")
    assert len(seeds) == robots, 'every synthetic robot sees its own scenes'
    assert len(edge_ids) == len(want_edges), 'two edges with one edge_id would serve robots twice'
    servers = [a.kwargs for a in actions if type(a).__name__ == 'ExecuteProcess']
    if arg['discovery_server'] == 'true':
        address = f"{arg['discovery_address']}:{arg['discovery_port']}"
        from ladon_ros.config_files import thin_profile
        # dds_profile auto + a discovery server = the thin profiles, the server's included.
        assert len(servers) == 1 and servers[0]['cmd'][-9:] == [
            'discovery', '-i', '0', '-l', arg['discovery_address'], '-p', arg['discovery_port'],
            '-x', str(thin_profile('server'))]
        assert shutil.which('fastdds'), 'fastdds (ros-fastdds wheel) is not on PATH'
        assert all(n['additional_env']['ROS_DISCOVERY_SERVER'] == address for n in nodes)
    else:
        assert servers == [] and all('ROS_DISCOVERY_SERVER' not in n['additional_env'] for n in nodes)
    # Measured: a plain discovery-server client edge never saw a robot's latent topic (0 results
    # in 60 s); as a super client it served it. Robots stay plain clients.
    for n in nodes:
        want = 'TRUE' if arg['discovery_server'] == 'true' and n['executable'] == 'edge_perception' else None
        assert n['additional_env'].get('ROS_SUPER_CLIENT') == want, n['namespace']


def test_fleet_launch_starts_two_redundant_discovery_servers(fleet_launch, monkeypatch):
    from ladon_ros.config_files import thin_profile
    for var in ('ROS_DISCOVERY_SERVER', 'FASTDDS_BUILTIN_TRANSPORTS', 'FASTDDS_DEFAULT_PROFILES_FILE'):
        monkeypatch.delenv(var, raising=False)
    actions = _run(fleet_launch, robots='1', edges='1', discovery_server='true', discovery_servers='2',
                   discovery_address='10.0.0.5', discovery_port='11811')
    servers = [a.kwargs['cmd'] for a in actions if type(a).__name__ == 'ExecuteProcess']
    assert [c[-9:] for c in servers] == [
        ['discovery', '-i', str(i), '-l', '10.0.0.5', '-p', str(11811 + i), '-x', str(thin_profile('server'))]
        for i in (0, 1)]
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert {n['additional_env']['ROS_DISCOVERY_SERVER'] for n in nodes} == {'10.0.0.5:11811;10.0.0.5:11812'}
    with pytest.raises(ValueError, match='discovery_port'):
        _run(fleet_launch, discovery_server='true', discovery_servers='2', discovery_port='65535')


@pytest.mark.parametrize('servers', ['own', 'exported'])
def test_fleet_nodes_get_the_thin_profile_of_their_role_behind_a_discovery_server(fleet_launch, monkeypatch,
                                                                                  servers):
    from ladon_ros.config_files import fleet_profile, thin_profile
    for var in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_BUILTIN_TRANSPORTS'):
        monkeypatch.delenv(var, raising=False)
    if servers == 'exported':
        monkeypatch.setenv('ROS_DISCOVERY_SERVER', '10.0.0.5:11811;10.0.0.6:11812')
        over = {}
    else:
        monkeypatch.delenv('ROS_DISCOVERY_SERVER', raising=False)
        over = {'discovery_server': 'true'}
    nodes = [a.kwargs for a in _run(fleet_launch, robots='1', edges='1', **over) if type(a).__name__ == 'Node']
    want = {'image_source': thin_profile('robot'), 'camera_encoder': thin_profile('robot'),
            'edge_perception': thin_profile('edge')}
    assert {n['executable']: n['additional_env']['FASTDDS_DEFAULT_PROFILES_FILE'] for n in nodes} == {
        k: str(v) for k, v in want.items()}
    # dds_profile:=fleet keeps the fleet profile behind a server; no server: auto = fleet.
    fleet = [a.kwargs for a in _run(fleet_launch, robots='1', edges='1', dds_profile='fleet', **over)
             if type(a).__name__ == 'Node']
    assert {n['additional_env']['FASTDDS_DEFAULT_PROFILES_FILE'] for n in fleet} == {str(fleet_profile())}
    monkeypatch.delenv('ROS_DISCOVERY_SERVER', raising=False)
    plain = [a.kwargs for a in _run(fleet_launch, robots='1', edges='1') if type(a).__name__ == 'Node']
    assert {n['additional_env']['FASTDDS_DEFAULT_PROFILES_FILE'] for n in plain} == {str(fleet_profile())}


def test_fleet_edges_are_super_clients_of_an_external_discovery_server(fleet_launch, monkeypatch):
    monkeypatch.setenv('ROS_DISCOVERY_SERVER', '10.0.0.5:11811;10.0.0.6:11812')
    nodes = [a.kwargs for a in _run(fleet_launch, robots='1', edges='1') if type(a).__name__ == 'Node']
    assert not [a for a in _run(fleet_launch) if type(a).__name__ == 'ExecuteProcess']
    assert {n['executable']: n['additional_env'].get('ROS_SUPER_CLIENT') for n in nodes} == {
        'image_source': None, 'camera_encoder': None, 'edge_perception': 'TRUE'}


@pytest.mark.parametrize('overrides', [{'robots': '-1'}, {'edges': 'two'}, {'robots': '65'},
                                       {'discovery_server': 'true', 'discovery_port': '70000'}])
def test_fleet_launch_refuses_bad_counts(fleet_launch, overrides):
    with pytest.raises(ValueError, match=next(iter(overrides)) if 'robots' in overrides or 'edges' in overrides
                       else 'discovery_port'):
        _run(fleet_launch, **overrides)


def test_fleet_launch_refuses_discovery_server_with_large_data(fleet_launch, monkeypatch):
    monkeypatch.setenv('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
    with pytest.raises(ValueError, match='LARGE_DATA'):
        _run(fleet_launch, discovery_server='true')
    assert _run(fleet_launch, discovery_server='false')  # SIMPLE discovery + LARGE_DATA works


def test_fleet_discovery_server_runs_and_stops_on_sigint(fleet_launch, tmp_path):
    """The launch's server command serves, and launch's shutdown (SIGINT, then SIGTERM) ends it with its child."""
    import signal
    import subprocess
    import time
    server = next(a.kwargs for a in _run(fleet_launch, robots='0', edges='0', discovery_server='true',
                                         discovery_port='11893') if type(a).__name__ == 'ExecuteProcess')
    # Started plainly, and with SIGINT ignored on entry (what a launcher started in the
    # background by a non-interactive shell passes on: measured, the fastdds CLI then ignored
    # SIGINT, and SIGTERM killed it alone, orphaning its server; see server_command).
    for how, prefix in (('plain', []), ('SIGINT inherited ignored', ['sh', '-c', 'trap "" INT; exec "$@"', 'sh'])):
        log = tmp_path / 'server.log'
        with open(log, 'w') as out:
            proc = subprocess.Popen([*prefix, *server['cmd']], stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while 'Server started' not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            assert 'Server started' in log.read_text(), (how, log.read_text())
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)  # what launch sends on shutdown (then SIGTERM after 5 s)
            proc.wait(5)
            print(f'discovery server ({how}) ended by SIGINT after {time.monotonic() - t0:.2f} s, '
                  f'exit code {proc.returncode}')
            time.sleep(0.5)
            left = subprocess.run(['pgrep', '-f', 'discovery-server .*-p 11893'], capture_output=True,
                                  text=True).stdout
            assert not left.split(), f'discovery server ({how}) outlived the SIGINT: pids {left.split()}'
        finally:
            if proc.poll() is None:
                proc.kill()
            # On failure, stop what outlived the command (only this test's port).
            left = subprocess.run(['pgrep', '-f', 'discovery-server .*-p 11893'], capture_output=True,
                                  text=True).stdout
            for pid in left.split():
                os.kill(int(pid), signal.SIGKILL)
