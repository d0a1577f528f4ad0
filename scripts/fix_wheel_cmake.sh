#!/usr/bin/env bash
# Rewrites the build machine's Python paths baked into the ROS 2 wheels' CMake exports
# (<venv>/share/**/*.cmake) to this venv's, so rosidl can build msg/ (see ENVIRONMENT.md).
# Idempotent: files without the old paths are left untouched.
# Usage: scripts/fix_wheel_cmake.sh <venv>
set -euo pipefail
venv=${1:?usage: $0 <venv>}
py="$venv/bin/python"
include=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# numpy 1.x keeps its headers in numpy/core/include, not numpy/_core/include (2.x).
numpy_inc=$("$py" -c 'import numpy; print(numpy.get_include())')
old=/opt/python/cp311-cp311
{ grep -rlZ --include='*.cmake' -F "$old" "$venv/share" 2>/dev/null || true; } |
  xargs -0 -r sed -i \
    -e "s#$old/lib/python3.11/site-packages/numpy/_core/include#$numpy_inc#g" \
    -e "s#$old/lib/python3.11/site-packages/numpy/core/include#$numpy_inc#g" \
    -e "s#$old/include/python3.11#$include#g" \
    -e "s#$old/lib/python3.11/site-packages#$site#g"
if grep -rlq --include='*.cmake' -F "$old" "$venv/share" 2>/dev/null; then
  echo "fix_wheel_cmake: paths under $old remain in $venv/share" >&2
  exit 1
fi
