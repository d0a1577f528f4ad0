#!/usr/bin/env bash
# Test tooling: the ROS 2 launcher and CLI (`ros2 launch`, `ros2 lifecycle`, `ros2 param`, ...)
# from the wheels in ../shared/ros2-launch (they have no registry wheels; see its README).
# Installs them into the venv with --no-deps plus requirements-launch.txt, and colcon-builds
# composition_interfaces (launch_ros imports it at load) into install/ros2_launch, which
# scripts/env.sh puts on the paths. Without that folder (a user's fresh clone) it does
# nothing and succeeds: the launcher tests then skip and say why.
# Usage: scripts/setup_launch.sh <venv> [<ros2-launch folder>]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${1:?usage: $0 <venv> [ros2-launch folder]}" && pwd)
tools=${2:-${LADON_ROS2_LAUNCH:-$root/../shared/ros2-launch}}
prefix="$root/install/ros2_launch"
if [ ! -d "$tools/wheels" ] || [ ! -d "$tools/composition_interfaces" ]; then
  echo "setup_launch: $tools not found; ros2 launch / CLI not installed (launcher tests will skip)"
  exit 0
fi
tools=$(cd "$tools" && pwd)
cd "$root"
"$venv/bin/python" -m pip install -q -r requirements-launch.txt
"$venv/bin/python" -m pip install -q --no-deps --no-index "$tools"/wheels/*.whl
mkdir -p build
exec 9>build/.ladon-launch.lock
flock 9
rm -rf "$prefix" build/ros2_launch
AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH" \
  "$venv/bin/colcon" --log-base log/ros2_launch build --base-paths "$tools/composition_interfaces" \
  --build-base build/ros2_launch --install-base "$prefix" --merge-install \
  --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF
