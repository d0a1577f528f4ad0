"""ladon_ros.workspace: the environment a node command derives for its nodes is env.sh's."""
from __future__ import annotations

import os
import subprocess

from ladon_ros.workspace import install_space, workspace_env

KEYS = ('PATH', 'PYTHONPATH', 'LD_LIBRARY_PATH', 'AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH', 'LADON_ROS_ROOT')


def test_workspace_env_is_what_env_sh_sets(repo_root, install_space):
    base = {'PATH': '/usr/bin:/bin', 'HOME': os.environ.get('HOME', '/root')}
    out = subprocess.run(['bash', '-c', 'source scripts/env.sh && env -0'], cwd=repo_root, env=base,
                         capture_output=True, check=True).stdout.decode()
    sourced = dict(kv.split('=', 1) for kv in out.split('\0') if '=' in kv)
    derived = workspace_env(install_space, base)
    launch = repo_root / 'install' / 'ros2_launch'  # the test tooling env.sh appends (not the nodes')
    for key in KEYS:
        want = [p for p in sourced.get(key, '').split(os.pathsep) if p and not p.startswith(str(launch))]
        assert derived[key].split(os.pathsep) == want, key


def test_install_space_is_found_only_where_the_messages_were_built(repo_root, tmp_path):
    assert install_space(repo_root) == repo_root / 'install' / 'ladon_ros'
    assert install_space(tmp_path) is None
