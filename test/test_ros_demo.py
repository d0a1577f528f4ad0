"""``ladon-ros demo`` end to end (short): three node processes over DDS, summary, PNGs, clean exit.

The command runs as a user starts it, in a subprocess: ``.venv/bin/ladon-ros`` from a shell
that never sourced scripts/env.sh (the command sets up its nodes' environment itself, or says
in one line what to do) and with every FutureWarning an error, in the command and in its
nodes (their first lines are the package's own output).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ros_harness import ros_domain

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)

DOMAIN = ros_domain('ros_demo')
CLI = Path(sys.prefix) / 'bin' / 'ladon-ros'
# What scripts/env.sh (and test/conftest.py) add to the environment, and the guard with which the
# venv's ros_wheels_bootstrapper marks a process it has already re-executed with the venv's ROS
# libraries on LD_LIBRARY_PATH (inherited, it would skip that step in a fresh shell's command).
SOURCED = ('PYTHONPATH', 'LD_LIBRARY_PATH', 'AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH', 'LADON_ROS_ROOT',
           'FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE', '_ROS_WHEELS_BOOTSTRAP_COMPLETE')
# Every command that starts ROS nodes (or runs one in its own process), with the least arguments.
NODE_COMMANDS = [('demo',), ('demo', '--robots', '2'), ('bench-link',), ('bench-fleet',), ('bench-robot',),
                 ('record',), ('replay', 'some.mcap', '--publish')]


def unsourced_env(**extra: str) -> dict[str, str]:
    """This environment as a shell that never sourced scripts/env.sh has it (no venv on PATH either)."""
    env = {k: v for k, v in os.environ.items() if k not in SOURCED}
    env['PATH'] = os.pathsep.join(p for p in env['PATH'].split(os.pathsep) if not p.startswith(sys.prefix))
    return {**env, 'OMP_NUM_THREADS': '1', **extra}


def test_demo_without_env_sh_serves_frames_and_writes_pngs(tmp_path):
    out = tmp_path / 'demo'
    run = subprocess.run(
        [str(CLI), 'demo', '--frames', '6', '--out', str(out), '--domain-id', str(DOMAIN), '--pngs', '2'],
        env=unsourced_env(LADON_ROS_CACHE=str(tmp_path / 'cache'), PYTHONWARNINGS='error::FutureWarning'),
        cwd=tmp_path, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    text = run.stdout
    logs = '\n'.join(f'--- {p.name}\n{p.read_text()[-2000:]}' for p in sorted((out / 'logs').glob('*.log')))
    assert run.returncode == 0, f'{text}\n{run.stderr[-3000:]}\n{logs}'
    assert text.startswith('source: '), f'the first line is not the demo\'s own: {text[:300]!r}'
    assert 'Traceback' not in run.stderr and 'Warning' not in run.stderr, run.stderr[-3000:]
    lines = [ln for ln in text.splitlines() if ln.startswith('#')]
    assert lines and all(' B | enc ' in ln and 'scene ' in ln for ln in lines)
    assert 'served ' in text and 'nodes stopped: ' in text
    assert "'edge_perception': 0" in text and "'camera_encoder': 0" in text  # clean shutdown
    assert 'Warning' not in logs, logs  # the nodes' first lines are theirs too
    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.weights import default_checkpoint, is_random
    assert ('RANDOM WEIGHTS' in text) == is_random(read_metadata(default_checkpoint('ladon')))
    pngs = sorted(out.glob('frame_*.png'))
    assert 1 <= len(pngs) <= 2 and all(p.stat().st_size > 1000 for p in pngs)


@pytest.mark.parametrize('command', NODE_COMMANDS, ids=lambda c: ' '.join(c))
def test_node_commands_without_a_build_refuse_in_one_line(command, tmp_path):
    """Without env.sh and with no install space to derive it from (a checkout never built):
    exit 2 at once, one line saying what to run, no traceback, no node started."""
    run = subprocess.run([str(CLI), *command], env=unsourced_env(LADON_ROS_ROOT=str(tmp_path)), cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    lines = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.strip()]
    assert run.returncode == 2 and len(lines) == 1, (run.returncode, lines)
    assert 'ladon_ros.msg' in lines[0] and 'make setup' in lines[0] and 'source scripts/env.sh' in lines[0], lines


def test_every_command_that_starts_nodes_sets_up_their_environment():
    from ladon_ros.cli import build_parser
    parser = build_parser()
    for command in NODE_COMMANDS:
        args = parser.parse_args(list(command))
        needs = getattr(args, 'needs_ros', False)
        assert needs is True or (callable(needs) and needs(args)), command
    offline = parser.parse_args(['replay', 'some.mcap'])  # replays into the edge core, no ROS
    assert not offline.needs_ros(offline)
