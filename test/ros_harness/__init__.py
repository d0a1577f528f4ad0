"""The tests' harness for ROS: domain ids, the probe node, node processes, the ``ros2`` CLI.

- ``domains``: ``ros_domain(name)``, the ``ROS_DOMAIN_ID`` of every DDS test (one allocator).
- ``probe``: ``Probe``, the test's rclpy node on its own context and domain, and ``spin_until``.
- ``procs``: the node-process launcher (the package's ``NodeProcesses``) and ``send_stop``.
- ``cli``: ``ros2(...)``, a CLI call that waits out discovery ("Node not found").

Test files import from here (``from ros_harness import Probe, ros_domain``); nothing here is
shipped: the package keeps only the launcher its own commands use.
"""
from ros_harness.cli import CliResult, ros2
from ros_harness.domains import ros_domain
from ros_harness.probe import Probe, environment, spin_until
from ros_harness.procs import MODULES, STOP_SIGNALS, NodeProcesses, node_command, ros_arg_value, send_stop

__all__ = ['CliResult', 'MODULES', 'NodeProcesses', 'Probe', 'STOP_SIGNALS', 'environment', 'node_command',
           'ros2', 'ros_arg_value', 'ros_domain', 'send_stop', 'spin_until']
