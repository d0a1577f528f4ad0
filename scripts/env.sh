# Environment for running ladon_ros from this checkout: the venv's ROS 2 wheels plus the
# colcon install space (generated ladon_ros.msg). `source scripts/env.sh` (bash/zsh); the
# Makefile and tests that start subprocesses use it too.
_ladon_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
_ladon_venv="$_ladon_root/.venv"
_ladon_install="$_ladon_root/install/ladon_ros"
_ladon_site="$_ladon_install/lib/python3.11/site-packages"
export PATH="$_ladon_venv/bin:$PATH"
# Source tree first, install space second: ladon_ros/__init__.py extends its __path__ over
# both, so edited sources are used as-is while ladon_ros.msg comes from the install space.
export PYTHONPATH="$_ladon_root:$_ladon_site${PYTHONPATH:+:$PYTHONPATH}"
# The generated typesupport libraries; rosidl finds them (dlopen) through LD_LIBRARY_PATH.
# The venv's own ROS libraries are added by its ros_wheels_bootstrapper at interpreter start.
export LD_LIBRARY_PATH="$_ladon_install/lib:$_ladon_venv/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# ament_index lookups (share/ladon_ros/config, ...), like a sourced ROS 2 workspace.
export AMENT_PREFIX_PATH="$_ladon_install:$_ladon_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_ladon_venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export LADON_ROS_ROOT="$_ladon_root"
# ros2 launch / CLI test tooling (scripts/setup_launch.sh): composition_interfaces, built into
# its own prefix, which launch_ros imports at load. Absent on a user's fresh clone.
_ladon_launch="$_ladon_root/install/ros2_launch"
if [ -d "$_ladon_launch/lib" ]; then
  export PYTHONPATH="$PYTHONPATH:$_ladon_launch/lib/python3.11/site-packages"
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$_ladon_launch/lib"
  export AMENT_PREFIX_PATH="$AMENT_PREFIX_PATH:$_ladon_launch"
fi
unset _ladon_root _ladon_venv _ladon_install _ladon_site _ladon_launch
