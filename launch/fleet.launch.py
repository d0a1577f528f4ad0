"""A fleet on one machine: N synthetic robots, M edges sharing them, optional standby and discovery server.

Robot k (1..N) runs ``image_source`` (synthetic scenes, seed k) and ``camera_encoder`` in
namespace ``robot<k>``; edge j (1..M) runs ``edge_perception`` in namespace ``base<j>``, so
every edge has its own node name and hence its own default ``edge_id`` (host name + fully
qualified node name). The edges find the robots in the ROS graph and share them by
rendezvous hashing; kill one and the others take its robots over (docs/FLEET.md).

Examples::

    ros2 launch ladon_ros fleet.launch.py robots:=4 edges:=2
    ros2 launch ladon_ros fleet.launch.py robots:=4 edges:=2 standby:=true
    ros2 launch ladon_ros fleet.launch.py robots:=3 edges:=1 discovery_server:=true
    ros2 launch ladon_ros fleet.launch.py robots:=0 edges:=2     # base station only
    ros2 launch ladon_ros fleet.launch.py robots:=2 edges:=0     # robots only, served elsewhere

``standby:=true`` adds one edge in namespace ``standby`` with ``standby: true``: weights
loaded, no robots until a serving edge is lost. ``discovery_server:=true`` starts
``fastdds discovery`` (Fast DDS Discovery Server, no multicast needed) and gives every node
``ROS_DISCOVERY_SERVER=<address>:<port>``; robots on other machines must set the same
variable to an address of this machine they can reach. With a discovery server (this one or
servers named by an exported ``ROS_DISCOVERY_SERVER``) the edges also get
``ROS_SUPER_CLIENT=TRUE``: a plain client learns only the endpoints of topics it uses itself,
so an edge would never see the ``<ns>/latent`` publisher of a robot it does not serve yet.
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from ladon_ros.ros import launch_builder as lb

MAX_ROBOTS = 64
MAX_EDGES = 16
# Fast DDS matched no subscriber when its LARGE_DATA builtin transports met a UDP discovery
# server (../shared/ENVIRONMENT.md "Fleet"), so the launch refuses that combination.
LARGE_DATA = 'LARGE_DATA'

ARGUMENTS = [
    DeclareLaunchArgument(
        'robots', default_value='4',
        description=f'Number of synthetic robots (namespaces robot1..robotN), 0..{MAX_ROBOTS}; each runs '
                    'image_source + camera_encoder'),
    DeclareLaunchArgument(
        'edges', default_value='2',
        description=f'Number of serving edge_perception nodes (namespaces base1..baseM), 0..{MAX_EDGES}'),
    lb.switch_argument(
        'standby', 'false',
        "Also start one hot-standby edge (namespace 'standby', standby: true): loaded, "
        'serves nothing until a serving edge is lost'),
    lb.switch_argument(
        'discovery_server', 'false',
        'Start a Fast DDS Discovery Server (fastdds discovery -i 0) and point every node at it '
        'with ROS_DISCOVERY_SERVER (no multicast needed)'),
    DeclareLaunchArgument(
        'discovery_address', default_value='127.0.0.1',
        description='IPv4 address the discovery server listens on and the nodes connect to (a LAN '
                    'address of this machine when robots elsewhere use it)'),
    DeclareLaunchArgument(
        'discovery_port', default_value='11811',
        description='UDP port of the discovery server (Fast DDS default 11811)'),
    DeclareLaunchArgument(
        'discovery_servers', default_value='1', choices=['1', '2'],
        description='With discovery_server:=true: how many servers (2 = redundant: ids 0 and 1 on '
                    'discovery_port and discovery_port + 1; nodes keep being served and new ones join '
                    'while one is down; docs/FLEET.md "Thin links")'),
    DeclareLaunchArgument(
        'rate_hz', default_value='5.0',
        description='Frame rate of every synthetic robot camera [Hz]'),
    lb.codec_argument("What crosses each robot's link: 'ladon' (learned latent) or an image-codec baseline"),
    DeclareLaunchArgument(
        'checkpoint', default_value='',
        description="Ladon checkpoint (.safetensors) for encoders and edges ('' = shipped default)"),
    DeclareLaunchArgument(
        'device', default_value='cpu',
        description="Torch device of the encoders and the edge models ('cpu', 'cuda', 'cuda:0')"),
    *lb.params_arguments(('image_source', 'camera_encoder', 'edge_perception'), every=True),
    lb.dds_profile_argument(lb.DDS_PROFILE_HELP),
]


def _count(text, name, most):
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= most:
        raise ValueError(f'{name}:={text!r}: expected an integer 0..{most}')
    return n


def _nodes(context):
    """The discovery server, robots and edges from the evaluated arguments."""
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    from ladon_ros.config_files import resolve_profile_choice, thin_profile
    from ladon_ros.fleet.discovery import SERVERS_VAR, server_command, servers_value
    robots = _count(arg('robots'), 'robots', MAX_ROBOTS)
    edges = _count(arg('edges'), 'edges', MAX_EDGES)
    env = {}
    actions = []
    if arg('discovery_server') == 'true':
        if LARGE_DATA in os.environ.get('FASTDDS_BUILTIN_TRANSPORTS', ''):
            raise ValueError('discovery_server:=true does not work with FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA '
                             '(no subscriber is matched); unset it')
        port = _count(arg('discovery_port'), 'discovery_port', 65535)
        ports = [port + i for i in range(int(arg('discovery_servers')))]
        _count(str(ports[-1]), 'discovery_port', 65535)
        # With the thin profiles a server announces itself to its clients every 30 s, not every 3 s.
        thin = resolve_profile_choice(arg('dds_profile'), True) == 'thin'
        for i, p in enumerate(ports):
            actions.append(ExecuteProcess(
                name=f'discovery_server{i}' if i else 'discovery_server', output='screen',
                cmd=server_command(arg('discovery_address'), p, server_id=i,
                                   profile=thin_profile('server') if thin else None)))
        env = {SERVERS_VAR: servers_value(arg('discovery_address'), ports)}
    # Per role: with a discovery server (this one or exported) robots and edges get the thin profiles.
    robot_env = {**env, **lb.node_dds_env(arg('dds_profile'), 'robot', env)}
    edge_env = {**env, **lb.node_dds_env(arg('dds_profile'), 'edge', env)}
    checkpoint = arg('checkpoint')
    for k in range(1, robots + 1):
        actions += lb.robot_nodes(
            arg, f'robot{k}', robot_env,
            source={'mode': 'synthetic', 'seed': k, 'rate_hz': float(arg('rate_hz'))},
            encoder={'codec': arg('codec'), 'checkpoint': checkpoint, 'device': arg('device')})
    # Each edge in its own namespace: distinct node names, so distinct default edge ids.
    edge_spaces = [(f'base{j}', False) for j in range(1, edges + 1)]
    if arg('standby') == 'true':
        edge_spaces.append(('standby', True))
    for ns, standby in edge_spaces:
        actions.append(lb.edge_node(arg, ns, edge_env, {
            'checkpoints': [checkpoint], 'device': arg('device'), 'standby': standby,
            'serve_image_codecs': arg('codec') != 'ladon'}))
    return actions


def generate_launch_description():
    """Entry point of ``ros2 launch ladon_ros fleet.launch.py``."""
    return LaunchDescription(ARGUMENTS + [OpaqueFunction(function=_nodes)])
