#!/usr/bin/env bash
# colcon build of this package against the venv's ROS 2 wheels (called by `make setup`).
# rosidl generates ladon_ros.msg; CMakeLists.txt installs the Python sources, node launchers,
# launch/, config/, configs/ and rviz/ beside it. Serialised with flock: several shells may
# run `make test` in one checkout at once.
# Usage: scripts/colcon_build.sh <venv>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${1:?usage: $0 <venv>}" && pwd)
cd "$root"
mkdir -p build
exec 9>build/.ladon-build.lock
flock 9
# A module deleted in the tree must not linger in the install space.
rm -rf install/ladon_ros/lib/python3.11/site-packages/ladon_ros
# --cmake-force-configure: a newly added config/ or msg/ file is picked up.
AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH" \
  "$venv/bin/colcon" --log-base log build --base-paths . --packages-select ladon_ros \
  --build-base build --install-base install --cmake-force-configure \
  --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF
