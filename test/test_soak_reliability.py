"""Long reliability soaks over real DDS (``make soak``; excluded from ``make test``).

* overload at 10x what the edge serves for ``LADON_SOAK_S`` seconds (default 300): queues
  bounded (keep-latest), newest served, every frame accounted for, RSS growth < 5 % after
  warm-up;
* repeated kill -9 / restart of the edge (``LADON_SOAK_RESTARTS``, default 5) with the camera
  running: the median time to the first result after the edge is active is < 2 s.

own ROS_DOMAIN_IDs (ros_harness).
"""
from __future__ import annotations

import os
import statistics

import pytest

from test_faults_dds import RESUME_TARGET_S, kill_restart_run, overload_run, running_edge, world  # noqa: F401
from ros_harness import ros_domain

pytestmark = [pytest.mark.slow, pytest.mark.soak, pytest.mark.ros]
SOAK_S = float(os.environ.get('LADON_SOAK_S', '300'))
RESTARTS = int(os.environ.get('LADON_SOAK_RESTARTS', '5'))


def test_soak_overload_memory_stays_flat(world, capsys):
    with running_edge(world, ros_domain('soak_edge')) as (procs, probe):
        fig = overload_run(world, probe, procs, SOAK_S, capsys, f'soak overload {SOAK_S:.0f} s')
        assert fig['served'] > 0
        assert abs(fig['published'] - fig['served'] - fig['stale'] - fig['lost']) <= 0.02 * fig['published'] + 5
        assert fig['age_last'] <= max(2 * fig['age_first'], fig['age_first'] + 20 * fig['service_ms'])
        assert fig['growth'] < 5.0


def test_soak_repeated_edge_restarts(world, capsys):
    fig = kill_restart_run(world, capsys, domain=ros_domain('soak_restart'), edge_restarts=RESTARTS)
    assert fig['edge_restarts'] == RESTARTS
    assert statistics.median(fig['resumes']) < RESUME_TARGET_S, fig['resumes']
