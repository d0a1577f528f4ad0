"""Shared test set-up: this process gets the environment of ``scripts/env.sh``.

``make test`` sources env.sh itself; applying it here too means a plain ``.venv/bin/pytest
test/...`` also finds the generated ``ladon_ros.msg``, and subprocesses inherit it.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / 'install' / 'ladon_ros'
ENV_KEYS = ('PATH', 'PYTHONPATH', 'LD_LIBRARY_PATH', 'AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH',
            'LADON_ROS_ROOT')


def _apply_env_sh() -> None:
    out = subprocess.run(['bash', '-c', 'source scripts/env.sh && env -0'], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    env = dict(kv.split('=', 1) for kv in out.split('\0') if '=' in kv)
    os.environ.update({k: env[k] for k in ENV_KEYS})
    for path in reversed(env['PYTHONPATH'].split(os.pathsep)):
        if path:
            # Move to the front even when present (pytest put the rootdir there already), so
            # the source tree precedes the install space's copy of it, as in env.sh.
            if path in sys.path:
                sys.path.remove(path)
            sys.path.insert(0, path)
    # The dynamic loader read LD_LIBRARY_PATH when this process started, and rosidl dlopens
    # the generated typesupport libraries by bare name: preloading them by full path makes
    # that lookup succeed in this process too (they find each other through their RUNPATH).
    for lib in sorted((INSTALL / 'lib').glob('libladon_ros__*.so')):
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)


_apply_env_sh()
# In-process probes (rclpy nodes of the tests) use the fleet Fast DDS profile like the node
# processes they talk to (ladon_ros.ros.processes does the same for those).
if not any(os.environ.get(v) for v in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')):
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(ROOT / 'config' / 'fastdds_fleet.xml')


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """The checkout's root folder."""
    return ROOT


@pytest.fixture(scope='session')
def install_space() -> Path:
    """``install/ladon_ros`` of the colcon build; fails (not skips) when it was never built."""
    if not (INSTALL / 'lib' / 'ladon_ros').is_dir():
        pytest.fail(f'{INSTALL} is missing: run `make setup` (`make test` does it first)')
    return INSTALL


@pytest.fixture(scope='session', autouse=True)
def _one_torch_thread():
    # Two cores shared by many test processes: keep every test on one intra-op thread.
    if 'torch' in sys.modules:
        sys.modules['torch'].set_num_threads(1)
