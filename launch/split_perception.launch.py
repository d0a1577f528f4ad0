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
encoder must start at the adapter's ``start_point`` (with the defaults it does: the
shipped default checkpoint is the first point).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'ladon_ros'
SOURCES = ['synthetic', 'video', 'folder', 'camera']
CODECS = ['ladon', 'raw', 'jpeg', 'png', 'webp']


def _config(name):
    return PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', name])


ARGUMENTS = [
    DeclareLaunchArgument(
        'namespace', default_value='robot1',
        description="Robot namespace of the source and the encoder; the edge node serves it "
                    "('' = the root namespace)"),
    DeclareLaunchArgument(
        'source', default_value='synthetic', choices=SOURCES,
        description="Image source: 'synthetic' (procedural scenes, no camera), 'video' (file), "
                    "'folder' (images sorted by name) or 'camera' (OpenCV / V4L2 index)"),
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
    DeclareLaunchArgument(
        'codec', default_value='ladon', choices=CODECS,
        description="What crosses the link: 'ladon' (learned latent) or an image-codec baseline"),
    DeclareLaunchArgument(
        'model', default_value='',
        description="Ladon model id the checkpoint must be ('' = any; the default model)"),
    DeclareLaunchArgument(
        'checkpoint', default_value='',
        description="Ladon checkpoint (.safetensors) for encoder and edge ('' = shipped default)"),
    DeclareLaunchArgument(
        'device', default_value='cpu',
        description="Torch device of the encoder and the edge models ('cpu', 'cuda', 'cuda:0')"),
    # <node>_params: the node's parameters file (defaults: config/<node>.yaml, installed to share/).
    *[DeclareLaunchArgument(f'{node}_params', default_value=_config(f'{node}.yaml'),
                            description=f'Parameters file of the {node} node')
      for node in ('image_source', 'camera_encoder', 'edge_perception', 'rate_adapter')],
    DeclareLaunchArgument(
        'rate_adapter', default_value='false', choices=['true', 'false'],
        description='Also start rate_adapter: the camera encoder follows the link (frame skipping and '
                    'rate-point switches from the edge\'s link_feedback; see docs/LINK.md)'),
    DeclareLaunchArgument(
        'dds_profile', default_value='fleet',
        description="Fast DDS profile of the nodes: 'fleet' = config/fastdds_fleet.xml "
                    "(participants announced every 0.5 s, so a restarted node is matched within "
                    "about 1 s), a path to your own XML, or '' for Fast DDS defaults. Ignored when "
                    "FASTDDS_DEFAULT_PROFILES_FILE is already set in the environment"),
    DeclareLaunchArgument(
        'edge', default_value='true', choices=['true', 'false'],
        description="Start an edge_perception node here; 'false' launches the robot side only, "
                    'served by the edges already running on the domain (fleet)'),
    DeclareLaunchArgument(
        'rviz', default_value='false', choices=['true', 'false'],
        description='Also start rviz2 with rviz/ladon.rviz (shows the default namespace robot1)'),
    DeclareLaunchArgument(
        'rviz_config', default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), 'rviz', 'ladon.rviz']),
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
    from ladon_ros.config_files import dds_profile_env
    env = dds_profile_env(arg('dds_profile'))
    adapt = arg('rate_adapter') == 'true'
    served = [checkpoint]
    if adapt:
        from ladon_ros.ros.params import rate_adapter_checkpoints
        served = rate_adapter_checkpoints(arg('rate_adapter_params'))
    nodes = [
        Node(package=PACKAGE, executable='image_source', name='image_source', namespace=namespace,
             output='screen', additional_env=env,
             parameters=[arg('image_source_params'),
                         {'mode': arg('source'), 'path': arg('source_path'),
                          'camera_index': int_arg('camera_index'),
                          'wait_for_subscribers': int_arg('wait_for_subscribers')}]),
        Node(package=PACKAGE, executable='camera_encoder', name='camera_encoder', namespace=namespace,
             output='screen', additional_env=env, remappings=[('image_raw', 'image_gated')] if adapt else [],
             parameters=[arg('camera_encoder_params'),
                         {'codec': arg('codec'), 'model': arg('model'), 'checkpoint': checkpoint,
                          'device': arg('device')}]),
    ]
    if arg('edge') == 'true':
        # At the root: the edge serves every robot it finds in the graph (this one and any
        # other launched on the domain), sharing them with other edges (docs/FLEET.md).
        nodes.append(Node(package=PACKAGE, executable='edge_perception', name='edge_perception',
                          output='screen', additional_env=env,
                          parameters=[arg('edge_perception_params'),
                                      {'checkpoints': served, 'device': arg('device')}]))
    if adapt:
        nodes.append(Node(package=PACKAGE, executable='rate_adapter', name='rate_adapter', namespace=namespace,
                          output='screen', additional_env=env,
                          parameters=[arg('rate_adapter_params'), {'encoder_node': 'camera_encoder'}]))
    if arg('rviz') == 'true':
        nodes.append(Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                          arguments=['-d', arg('rviz_config')]))
    return nodes


def generate_launch_description():
    """Entry point of ``ros2 launch ladon_ros split_perception.launch.py``."""
    return LaunchDescription(ARGUMENTS + [OpaqueFunction(function=_nodes)])
