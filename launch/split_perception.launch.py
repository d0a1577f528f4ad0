"""Split perception: robot side (image source + camera encoder) and edge side (perception).

The source and the encoder run in the robot's namespace (``/<namespace>/image_raw`` ->
``/<namespace>/latent``); the edge node runs at the root and serves that namespace, so its
results appear under ``/<namespace>/perception/...`` (see docs/CONTRACTS.md).

Examples::

    ros2 launch ladon_ros split_perception.launch.py
    ros2 launch ladon_ros split_perception.launch.py namespace:=robot2 source:=camera codec:=jpeg
    ros2 launch ladon_ros split_perception.launch.py source:=video source_path:=/data/run.mp4 rviz:=true
    ros2 launch ladon_ros split_perception.launch.py rate_adapter:=true

With ``rate_adapter:=true`` the ``rate_adapter`` node gates the camera (the encoder reads
``image_gated``) and switches the encoder between the rate points of its params file
(default: every shipped Ladon rate point); the edge serves all their checkpoints. The
encoder must start at the adapter's ``start_point`` (with the defaults it does: -1 is
the point a default encoder starts with, the shipped default rate point, beta 4).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from ladon_ros.ros import launch_builder as lb

ARGUMENTS = [
    DeclareLaunchArgument(
        'namespace', default_value='robot1',
        description="Robot namespace of the source and the encoder; the edge node serves it "
                    "('' = the root namespace)"),
    lb.source_argument(),
    DeclareLaunchArgument(
        'source_path', default_value='',
        description="Video file for source:=video, image folder for source:=folder"),
    DeclareLaunchArgument(
        'camera_index', default_value='0',
        description='OpenCV / V4L2 camera index for source:=camera (/dev/video<N>)'),
    DeclareLaunchArgument(
        'wait_for_subscribers', default_value='1',
        description='The source publishes only once image_raw has this many subscribers, so no frame '
                    'is lost while the camera encoder is still starting (0 = publish at once)'),
    lb.codec_argument("What crosses the link: 'ladon' (learned latent) or an image-codec baseline"),
    DeclareLaunchArgument(
        'model', default_value='',
        description="Ladon model id the checkpoint must be ('' = any; the default model)"),
    DeclareLaunchArgument(
        'checkpoint', default_value='',
        description="Ladon checkpoint (.safetensors) for encoder and edge ('' = shipped default)"),
    DeclareLaunchArgument(
        'device', default_value='cpu',
        description="Torch device of the encoder and the edge models ('cpu', 'cuda', 'cuda:0')"),
    *lb.params_arguments(('image_source', 'camera_encoder', 'edge_perception', 'rate_adapter')),
    lb.switch_argument(
        'rate_adapter', 'false',
        'Also start rate_adapter: the camera encoder follows the link (frame skipping and '
        'rate-point switches from the edge\'s link_feedback; see docs/LINK.md)'),
    lb.dds_profile_argument(lb.DDS_PROFILE_HELP),
    lb.switch_argument(
        'edge', 'true',
        "Start an edge_perception node here; 'false' launches the robot side only, "
        'served by the edges already running on the domain (fleet)'),
    lb.switch_argument('rviz', 'false', 'Also start rviz2 with rviz/ladon.rviz (shows the default namespace robot1)'),
    DeclareLaunchArgument(
        'rviz_config', default_value=PathJoinSubstitution([FindPackageShare(lb.PACKAGE), 'rviz', 'ladon.rviz']),
        description='RViz configuration file'),
]


def _nodes(context):
    """Builds the nodes from the evaluated arguments (plain strings keep '' values intact)."""
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    def int_arg(name):
        try:
            return int(arg(name))
        except ValueError:  # launch prints the message only: make it name the argument
            raise ValueError(f'launch argument {name}:={arg(name)!r} is not an integer') from None

    namespace = arg('namespace').strip('/')
    checkpoint = arg('checkpoint')
    env = lb.node_dds_env(arg('dds_profile'), 'robot')
    adapt = arg('rate_adapter') == 'true'
    served = [checkpoint]
    if adapt:
        from ladon_ros.ros.params import rate_adapter_checkpoints
        served = rate_adapter_checkpoints(arg('rate_adapter_params'))
    nodes = lb.robot_nodes(
        arg, namespace, env,
        source={'mode': arg('source'), 'path': arg('source_path'), 'camera_index': int_arg('camera_index'),
                'wait_for_subscribers': int_arg('wait_for_subscribers')},
        encoder={'codec': arg('codec'), 'model': arg('model'), 'checkpoint': checkpoint, 'device': arg('device')},
        gated=adapt)
    if arg('edge') == 'true':
        # At the root: the edge serves every robot it finds in the graph (this one and any
        # other launched on the domain), sharing them with other edges (docs/FLEET.md).
        nodes.append(lb.edge_node(arg, None, lb.node_dds_env(arg('dds_profile'), 'edge'),
                                  {'checkpoints': served, 'device': arg('device')}))
    if adapt:
        nodes.append(lb.rate_adapter_node(arg, namespace, env))
    if arg('rviz') == 'true':
        nodes.append(Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                          arguments=['-d', arg('rviz_config')]))
    return nodes


def generate_launch_description():
    """Entry point of ``ros2 launch ladon_ros split_perception.launch.py``."""
    return LaunchDescription(ARGUMENTS + [OpaqueFunction(function=_nodes)])
