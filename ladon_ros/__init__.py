"""ladon_ros: multi-task split-computing perception (Ladon) for ROS 2.

The pure-Python core (``ladon_ros.models``, ``ladon_ros.codec``, ``ladon_ros.data``,
``ladon_ros.train``, ``ladon_ros.export``, ``ladon_ros.bench``) never imports rclpy.
The ROS layer lives in ``ladon_ros.ros``.
"""
# The interfaces generated from msg/ (``ladon_ros.msg``) live in the colcon install
# space while the sources may run from the repository: extend_path lets every
# ``ladon_ros`` directory on sys.path serve this one package.
__path__ = __import__('pkgutil').extend_path(__path__, __name__)

__version__ = '0.1.0'
