"""``ladon-ros demo`` end to end (short): three node processes over DDS, summary, PNGs, clean exit."""
from __future__ import annotations

import os

import pytest

from ladon_ros.cli import main
from ros_domains import ros_domain

pytestmark = pytest.mark.ros  # rclpy nodes / DDS processes (setup.cfg)

DOMAIN = ros_domain('ros_demo')


def test_demo_serves_frames_and_writes_pngs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path / 'cache'))
    out = tmp_path / 'demo'
    code = main(['demo', '--frames', '6', '--out', str(out), '--domain-id', str(DOMAIN), '--pngs', '2'])
    text = capsys.readouterr().out
    assert code == 0, text
    lines = [ln for ln in text.splitlines() if ln.startswith('#')]
    assert lines and all(' B | enc ' in ln and 'scene ' in ln for ln in lines)
    assert 'served ' in text and 'nodes stopped: ' in text
    assert "'edge_perception': 0" in text and "'camera_encoder': 0" in text  # clean shutdown
    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.weights import default_checkpoint, is_random
    assert ('RANDOM WEIGHTS' in text) == is_random(read_metadata(default_checkpoint('ladon')))
    pngs = sorted(out.glob('frame_*.png'))
    assert 1 <= len(pngs) <= 2 and all(p.stat().st_size > 1000 for p in pngs)
