"""Codec-case and rate-point parsing, ROS argument forming, report outputs (no root needed)."""
import json
import math
from pathlib import Path

import pytest

from ladon_ros.bench.link.cases import parse_codecs, parse_rates
from ladon_ros.bench.link.floor import BenchRow
from ladon_ros.bench.link.harness import node_argv, ros_param
from ladon_ros.rate.points import parse_point, point_spec
from ladon_ros.bench.link.report import markdown_table, write_json

POINTS = [(Path('/w/a.safetensors'), 1.28, False), (Path('/w/b.safetensors'), 5.12, False)]


def test_codec_list_expands_ladon_and_defaults_qualities():
    cases = parse_codecs('raw,jpeg@50,webp,png,ladon,local', POINTS)
    assert [c.label for c in cases] == ['raw', 'jpeg@50', 'webp@90', 'png@3', 'ladon@1.28', 'ladon@5.12', 'local']
    assert cases[4].encoder_params() == {'codec': 'ladon', 'checkpoint': '/w/a.safetensors'}
    assert cases[1].encoder_params() == {'codec': 'jpeg', 'quality': 50}
    assert [c.label for c in parse_codecs('ladon@5.12', POINTS)] == ['ladon@5.12']


@pytest.mark.parametrize('text', ['h264', 'jpeg@0', 'png@12', 'ladon@9.9', 'jpeg,jpeg', '', 'local@3'])
def test_bad_codec_lists_are_refused(text):
    with pytest.raises(ValueError):
        parse_codecs(text, POINTS)


def test_rates_sorted_fastest_first_and_checked():
    assert parse_rates('1,20,5') == (20.0, 5.0, 1.0)
    with pytest.raises(ValueError):
        parse_rates('0')


def test_rate_point_specs_round_trip_and_validate():
    p = parse_point('codec=jpeg,quality=50')
    assert p == {'codec': 'jpeg', 'quality': 50}
    assert parse_point(point_spec(p)) == p
    for bad in ('quality=5', 'codec=jpeg,quality=x', 'codec=ladon', 'codec=jpeg,size=3'):
        with pytest.raises(ValueError):
            parse_point(bad)


def test_ros_arguments():
    assert ros_param(True) == 'true' and ros_param('') == "''" and ros_param(['a', 'b']) == "['a','b']"
    argv = node_argv('m.n', {'codec': 'jpeg', 'quality': 75}, '/robot1')
    assert argv[1:] == ['-m', 'm.n', '--ros-args', '-r', '__ns:=/robot1', '-p', 'codec:=jpeg', '-p', 'quality:=75']


def test_table_and_json(tmp_path):
    rows = [BenchRow('local', 'on-robot', None, 0, 10, 9.5, 0.05, 80, 95, 70, {'compute_ms_p50': 70}),
            BenchRow('jpeg@75', 'clean', 5, 8000, 10, 0, 1.0, math.nan, math.nan, 60,
                     {'veth_covers_served_bytes': True})]
    table = markdown_table(rows)
    assert table.count('\n') == 4 and '| jpeg@75 | clean | 5 |' in table
    data = json.loads(write_json(rows, tmp_path / 'r.json').read_text())
    assert data[0]['codec'] == 'local' and data[0]['link_mbps'] is None
    assert data[1]['latency_p50_ms'] is None and data[1]['veth_covers_served_bytes'] is True
