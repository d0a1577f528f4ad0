"""The pieces of launch/*.launch.py: arguments and nodes, defined once for both launch files.

``split_perception.launch.py`` (one robot, optionally its edge) and ``fleet.launch.py`` (N
robots, M edges) start the same robot node pair and the same edge; both build them here.
Choices come from their single definitions in the package (codecs: ``codec.bitstream.CODEC_IDS``,
sources: ``ros.params.SOURCE_MODES``). Which Fast DDS profile a node gets is decided in one
place, ``node_dds_env``; the edge's super-client setting follows ``fleet.discovery.edge_env``,
the rule the edge applies to itself at start.

Node builders take ``arg``, the launch file's reader of evaluated arguments (plain strings
from an ``OpaqueFunction``'s context, so '' values stay intact).
"""
from __future__ import annotations

import os

from launch.actions import DeclareLaunchArgument
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from ladon_ros.codec.bitstream import CODEC_IDS
from ladon_ros.config_files import dds_profile_env, resolve_profile_choice
from ladon_ros.fleet.discovery import edge_env, uses_server
from ladon_ros.ros.params import SOURCE_MODES

PACKAGE = 'ladon_ros'
CODECS = list(CODEC_IDS)
SOURCES = list(SOURCE_MODES)
SWITCH = ['true', 'false']


def config_path(name: str) -> PathJoinSubstitution:
    """``share/ladon_ros/config/<name>`` of the installed package."""
    return PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', name])


def switch_argument(name: str, default: str, description: str) -> DeclareLaunchArgument:
    """A true/false launch argument."""
    return DeclareLaunchArgument(name, default_value=default, choices=SWITCH, description=description)


def codec_argument(description: str) -> DeclareLaunchArgument:
    """``codec``: what crosses the link, one of the package's codecs."""
    return DeclareLaunchArgument('codec', default_value='ladon', choices=CODECS, description=description)


def source_argument() -> DeclareLaunchArgument:
    """``source``: the image source mode."""
    return DeclareLaunchArgument(
        'source', default_value='synthetic', choices=SOURCES,
        description="Image source: 'synthetic' (procedural scenes, no camera), 'video' (file), "
                    "'folder' (images sorted by name) or 'camera' (OpenCV / V4L2 index)")


def params_arguments(nodes: tuple[str, ...], every: bool = False) -> list[DeclareLaunchArgument]:
    """``<node>_params`` for each of ``nodes``: its parameters file (default: config/<node>.yaml).

    Args:
        nodes: Executables.
        every: Say "every <node> node" (a launch file that starts several).
    """
    return [DeclareLaunchArgument(f'{node}_params', default_value=config_path(f'{node}.yaml'),
                                  description=f'Parameters file of {"every" if every else "the"} {node} node')
            for node in nodes]


def dds_profile_argument(description: str) -> DeclareLaunchArgument:
    """``dds_profile``: the Fast DDS profile choice of the nodes (``node_dds_env``)."""
    return DeclareLaunchArgument('dds_profile', default_value='auto', description=description)


DDS_PROFILE_HELP = ("Fast DDS profile of the nodes: 'auto' = 'thin' when a discovery server is in use "
                    "(this launch's or an exported ROS_DISCOVERY_SERVER), else 'fleet'; 'thin' = "
                    'config/fastdds_thin_robot.xml for robot nodes and fastdds_thin_edge.xml for edges '
                    "(docs/FLEET.md \"Thin links\"); 'fleet' = config/fastdds_fleet.xml (participants "
                    "announced every 0.5 s); a path to your own XML; or '' for Fast DDS defaults. Ignored "
                    'when FASTDDS_DEFAULT_PROFILES_FILE is already set in the environment')


def node_dds_env(choice: str, role: str = 'robot', env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that gives a launched node of ``role`` the Fast DDS profile ``dds_profile:=choice``.

    The one place where the launch files pick a profile: 'auto' = 'thin' when the node discovers
    through a server (named in ``env`` or exported), else 'fleet'; 'thin' = the thin-link
    profile of ``role`` ('robot' or 'edge'); 'fleet' = config/fastdds_fleet.xml; a path to an
    XML file; or '' for Fast DDS defaults. A profile already exported in the environment wins
    (``config_files.dds_profile_env``).
    """
    server = uses_server({**os.environ, **(env or {})})
    return dds_profile_env(resolve_profile_choice(choice, server), role=role)


def edge_additional_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus what ``fleet.discovery.edge_env`` adds for an edge that inherits this shell's
    environment and ``env``: ``ROS_SUPER_CLIENT=TRUE`` when it discovers through a server
    (named in ``env`` or exported), unless the user set it."""
    inherited = {**os.environ, **env}
    return {**env, **{k: v for k, v in edge_env(inherited).items() if k not in inherited}}


def image_source_node(arg, namespace: str, env: dict[str, str], params: dict) -> Node:
    """The ``image_source`` of a robot: its params file, then ``params``."""
    return Node(package=PACKAGE, executable='image_source', name='image_source', namespace=namespace,
                output='screen', additional_env=env, parameters=[arg('image_source_params'), params])


def camera_encoder_node(arg, namespace: str, env: dict[str, str], params: dict, gated: bool = False) -> Node:
    """The ``camera_encoder`` of a robot; ``gated``: it reads ``image_gated`` (the rate adapter's gate)."""
    return Node(package=PACKAGE, executable='camera_encoder', name='camera_encoder', namespace=namespace,
                output='screen', additional_env=env, remappings=[('image_raw', 'image_gated')] if gated else [],
                parameters=[arg('camera_encoder_params'), params])


def robot_nodes(arg, namespace: str, env: dict[str, str], source: dict, encoder: dict,
                gated: bool = False) -> list[Node]:
    """One robot: ``image_source`` + ``camera_encoder`` in ``namespace``."""
    return [image_source_node(arg, namespace, env, source),
            camera_encoder_node(arg, namespace, env, encoder, gated)]


def edge_node(arg, namespace: str | None, env: dict[str, str], params: dict) -> Node:
    """An ``edge_perception`` (``namespace`` None = the root), a super client behind a discovery server."""
    return Node(package=PACKAGE, executable='edge_perception', name='edge_perception', namespace=namespace,
                output='screen', additional_env=edge_additional_env(env),
                parameters=[arg('edge_perception_params'), params])


def rate_adapter_node(arg, namespace: str, env: dict[str, str]) -> Node:
    """The ``rate_adapter`` of a robot, driving its ``camera_encoder``."""
    return Node(package=PACKAGE, executable='rate_adapter', name='rate_adapter', namespace=namespace,
                output='screen', additional_env=env,
                parameters=[arg('rate_adapter_params'), {'encoder_node': 'camera_encoder'}])
