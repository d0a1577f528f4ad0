"""Codec-case parsing, node command lines, report outputs (no root needed)."""
import json
import math
from pathlib import Path

import pytest

from ladon_bench.link.cases import parse_codecs, parse_rates
from ladon_bench.link.floor import BenchRow
from ladon_bench.link.report import markdown_table, write_json
from ladon_ros.ros.processes import node_command, ros_arg_value

POINTS = [(Path('/w/a.safetensors'), 1.28, False), (Path('/w/b.safetensors'), 5.12, False)]


def test_codec_list_expands_ladon_and_defaults_qualities():
    cases = parse_codecs('raw,jpeg@50,webp,png,ladon,local', POINTS)
    assert [c.label for c in cases] == ['raw', 'jpeg@50', 'webp@90', 'png@3', 'ladon@1.28', 'ladon@5.12', 'local']
    assert cases[4].encoder_params() == {'codec': 'ladon', 'checkpoint': '/w/a.safetensors', 'rate_point': 0.0,
                                         'quality': -1}
    assert cases[1].encoder_params() == {'codec': 'jpeg', 'checkpoint': '', 'rate_point': 0.0, 'quality': 50}
    assert cases[2].rate_point == 90.0 and cases[0].encoder_params()['quality'] == -1
    assert [c.label for c in parse_codecs('ladon@5.12', POINTS)] == ['ladon@5.12']
    with pytest.raises(ValueError, match='local baseline runs no camera encoder'):
        cases[-1].encoder_params()


@pytest.mark.parametrize('text', ['h264', 'jpeg@0', 'png@12', 'ladon@9.9', 'jpeg,jpeg', '', 'local@3', 'raw@5', 'jpeg@',
                                  'jpeg:/x', 'codec=jpeg,quality=50'])
def test_bad_codec_lists_are_refused(text):
    with pytest.raises(ValueError):
        parse_codecs(text, POINTS)


def test_rates_sorted_fastest_first_and_checked():
    assert parse_rates('1,20,5') == (20.0, 5.0, 1.0)
    with pytest.raises(ValueError):
        parse_rates('0')


def test_one_command_line_builder_quotes_what_yaml_would_retype():
    assert ros_arg_value(True) == 'true' and ros_arg_value('') == "''" and ros_arg_value(['a', 'b']) == "['a', 'b']"
    assert ros_arg_value('true') == "'true'" and ros_arg_value('1.5') == "'1.5'" and ros_arg_value("it's: x") == "'it''s: x'"
    assert ros_arg_value('/w/a.safetensors') == '/w/a.safetensors' and ros_arg_value([1, 2.5]) == '[1, 2.5]'
    argv = node_command('camera_encoder', namespace='/robot1', params={'codec': 'jpeg', 'quality': 75},
                        remap={'image_raw': 'image_gated'})
    assert argv[1:] == ['-m', 'ladon_ros.ros.camera_encoder_node', '--ros-args', '-r', '__ns:=/robot1',
                        '-r', 'image_raw:=image_gated', '-p', 'codec:=jpeg', '-p', 'quality:=75']
    assert node_command('rate_adapter', params_file='/c.yaml')[2:] == ['ladon_ros.ros.rate_adapter_node', '--ros-args',
                                                                        '--params-file', '/c.yaml']


def test_table_and_json(tmp_path):
    rows = [BenchRow('local', 'on-robot', None, 0, 10, 9.5, 0.05, 80, 95, 70, {'compute_ms_p50': 70}),
            BenchRow('jpeg@75', 'clean', 5, 8000, 10, 0, 1.0, math.nan, math.nan, 60,
                     {'veth_covers_served_bytes': True})]
    table = markdown_table(rows)
    assert table.count('\n') == 4 and '| jpeg@75 | clean | 5 |' in table
    data = json.loads(write_json(rows, tmp_path / 'r.json').read_text())
    assert data[0]['codec'] == 'local' and data[0]['link_mbps'] is None
    assert data[1]['latency_p50_ms'] is None and data[1]['veth_covers_served_bytes'] is True
