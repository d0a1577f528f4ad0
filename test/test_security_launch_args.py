"""Bad launch arguments and untrusted checkpoint files given to the real node processes.

Each node is started as its console process would be (``--ros-args -p name:=value``), all at
once on its own ROS_DOMAIN_ID (ros_harness). Each must exit with code 2 and one clear line that names the
parameter and what is wrong, without a Python traceback, and without loading anything it
should not (a pickle checkpoint is never unpickled).
"""
from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest

from pickle_payload import Payload
from ros_harness import NodeProcesses, ros_domain

pytestmark = pytest.mark.ros
DOMAIN = ros_domain('security_launch_args')


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('launch')
    old = os.environ.get('LADON_ROS_CACHE')
    os.environ['LADON_ROS_CACHE'] = str(tmp / 'cache')
    try:
        from ladon_ros.weights import random_checkpoint
        ladon, teacher = random_checkpoint('ladon_small'), random_checkpoint('teacher_small')
    finally:
        if old is None:
            os.environ.pop('LADON_ROS_CACHE')
        else:
            os.environ['LADON_ROS_CACHE'] = old
    marker = tmp / 'marker.txt'
    pt = tmp / 'weights.pt'
    pt.write_bytes(pickle.dumps(Payload(marker)))
    disguised = tmp / 'weights_pickle.safetensors'
    disguised.write_bytes(pickle.dumps(Payload(marker)))
    return dict(tmp=tmp, ladon=str(ladon), teacher=str(teacher), pt=str(pt), disguised=str(disguised), marker=marker,
                env={'LADON_ROS_CACHE': str(tmp / 'cache'), 'OMP_NUM_THREADS': '1'})


def _cases(f):
    # Four processes at once (each imports torch): the other refusals (missing or tampered
    # checkpoint, ...) are covered in-process by test_ros_params.py and test_security_checkpoints.py.
    return [
        ('edge_bad_device', 'edge_perception', {'device': 'tpu'}, "device: 'tpu' is not a torch device"),
        ('edge_pickle_pt', 'edge_perception', {'checkpoints': [f['pt']]}, 'only .safetensors'),
        ('camera_unknown_model', 'camera_encoder', {'model': 'no_such_model'}, "model: unknown model 'no_such_model'"),
        ('camera_rate_point_range', 'camera_encoder', {'rate_point': 5000.0}, 'rate_point'),
    ]


def test_bad_launch_arguments_exit_with_a_clear_error(files, capsys):
    cases = _cases(files)
    procs = NodeProcesses(DOMAIN, files['tmp'] / 'logs', files['env'])
    try:
        for label, node, params, _ in cases:
            procs.start(node, label=label, params=params)
        end = time.monotonic() + 240
        while time.monotonic() < end and any(procs.alive(c[0]) for c in cases):
            time.sleep(0.5)
        lines, problems = [], []
        for label, _, _, expect in cases:
            alive = procs.alive(label)
            code = procs.procs[label].poll()
            log = procs.log(label)
            errors = [ln for ln in log.splitlines() if 'ERROR' in ln or 'error' in ln.lower()]
            first = errors[0].strip()[:160] if errors else log.strip().splitlines()[-1][:160] if log.strip() else ''
            lines.append(f'{label}: exit {code}: {first}')
            if alive or code != 2:
                problems.append(f'{label}: still running or exit {code} (a refused configuration exits 2)')
            elif expect not in log:
                problems.append(f'{label}: {expect!r} not in its output:\n{log[-1500:]}')
            elif 'Traceback' in log:
                problems.append(f'{label}: a traceback instead of one clear line:\n{log[-1500:]}')
        with capsys.disabled():
            print('\n[security] launch arguments:\n  ' + '\n  '.join(lines))
        assert not files['marker'].exists(), 'a pickle payload was executed'
        assert not problems, '\n'.join(problems)
    finally:
        procs.stop()
