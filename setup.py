"""pip-installable core + ``ladon-ros`` CLI (no ROS needed), plus console scripts of the nodes.

The ROS 2 package itself (generated ``ladon_ros.msg``, ``ros2 run`` executables, launch and
config in share/) is built by colcon from CMakeLists.txt; ``make setup`` does both.
"""
from glob import glob

from setuptools import find_packages, setup


def _share(folder: str, pattern: str) -> tuple[str, list[str]]:
    """A data_files entry that puts ``folder/pattern`` under share/ladon_ros/``folder``."""
    return (f'share/ladon_ros/{folder}', sorted(glob(f'{folder}/{pattern}')))


setup(
    name='ladon-ros',
    version='0.1.0',
    description='Split-computing perception with Ladon (multi-task supervised compression) for ROS 2',
    license='Apache-2.0',
    python_requires='>=3.10',
    # ladon_ros is the runtime (colcon installs it for the nodes); ladon_bench is the benchmark
    # lab behind `ladon-ros bench-*` (network namespaces, shaped links, fleets of processes), a
    # tool the runtime never imports, installed only with the pip package.
    packages=find_packages(include=['ladon_ros', 'ladon_ros.*', 'ladon_bench', 'ladon_bench.*']),
    # Shipped checkpoints (safetensors + JSON metadata), their ONNX camera bundles and YAML
    # configs travel with the code.
    package_data={'ladon_ros': ['weights/*.safetensors', 'weights/*.json', 'weights/onnx/*/*', 'weights/edge/*/*',
                                '**/*.yaml',
                                'reference/classes/*.txt']},
    include_package_data=False,
    # Into the install prefix like a ROS package: ament index marker, package.xml, params
    # files, launch, RViz and training configs (colcon installs the same via CMakeLists.txt).
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/ladon_ros']),
        ('share/ladon_ros', ['package.xml']),
        _share('config', '*.yaml'),
        _share('config', '*.xml'),
        _share('configs/train', '*.yaml'),
        _share('launch', '*.launch.py'),
        _share('rviz', '*.rviz'),
    ],
    install_requires=[
        'torch>=2.1',
        'torchvision>=0.16',
        'compressai>=1.2.6',
        'numpy<2',  # compressai pins numpy<2
        'opencv-python-headless>=4.8,<5',  # opencv 5 needs numpy>=2
        'safetensors>=0.4',
        'pyyaml>=6',
    ],
    extras_require={
        # The nodes need rclpy + messages: a ROS 2 install, or the Kilted wheels from PyPI.
        'ros': ['ros-rclpy[fastrtps]', 'ros-std-msgs', 'ros-sensor-msgs', 'ros-diagnostic-msgs',
                'cv-bridge'],
        'export': ['onnx', 'onnxruntime'],
        # ladon-ros record / replay / bench-bag (MCAP bags in the rosbag2 layout).
        'bags': ['mcap>=1.1', 'mcap-ros2-support>=0.5'],
        'test': ['pytest', 'pytest-timeout', 'hypothesis', 'rosbags'],
    },
    entry_points={
        'console_scripts': [
            'ladon-ros = ladon_ros.cli:main',
            'image_source = ladon_ros.ros.image_source_node:main',
            'camera_encoder = ladon_ros.ros.camera_encoder_node:main',
            'edge_perception = ladon_ros.ros.edge_perception_node:main',
            'rate_adapter = ladon_ros.ros.rate_adapter_node:main',
            'robot_camera = ladon_ros.ros.robot_camera_node:main',
        ],
    },
)
