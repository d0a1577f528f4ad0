"""ladon_ros: multi-task split-computing perception (Ladon) for ROS 2.

Runtime: ``camera`` (robot side), ``codec`` (wire formats, the latent codec), ``edge`` and
``fleet`` (base stations), ``rate`` (rate control), ``models``, ``checkpoint``, ``weights``.
Tools: ``train``, ``data``, ``eval``, ``export``, ``reference``, ``cli`` (and the benchmark lab,
the sibling package ``ladon_bench``).
Everything outside ``ladon_ros.ros`` (the thin ROS layer) imports without rclpy; the
layout is in docs/CONTRACTS.md.
"""
# The interfaces generated from msg/ (``ladon_ros.msg``) live in the colcon install
# space while the sources may run from the repository: extend_path lets every
# ``ladon_ros`` directory on sys.path serve this one package.
__path__ = __import__('pkgutil').extend_path(__path__, __name__)

__version__ = '0.1.0'
