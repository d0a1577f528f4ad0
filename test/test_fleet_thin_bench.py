"""bench-fleet's DDS-profile comparison (pure parts): setting names, the census's riders, the
overhead split and the join time read back from a robot's records."""
import math
import struct

import pytest

from ladon_bench.fleet import plan
from ladon_bench.fleet.metrics import FleetRow, census_overhead_split, census_per_robot_bps, join_seconds, \
    protocol_overhead_bps
from ladon_bench.link import rtps_census


def test_profile_is_part_of_the_setting_and_splits_back():
    assert plan.with_profile('clean', 'fleet') == 'clean'
    assert plan.with_profile('lossy', 'thin') == 'lossy+thin'
    assert plan.split_setting('clean') == ('clean', 'fleet')
    assert plan.split_setting('lossy+thin') == ('lossy', 'thin')
    assert plan.split_setting(plan.with_profile('clean', 'thin-split')) == ('clean', 'thin-split')
    with pytest.raises(ValueError):
        plan.with_profile('clean', 'zenoh')
    s = [plan.Search('ladon@1', 'clean', 5.0, 2.0, 1), plan.Search('ladon@1', 'clean', 5.0, 2.0, 2)]
    both = plan.with_profiles(s, ('fleet', 'thin'))
    assert [x.setting for x in both] == ['clean', 'clean', 'clean+thin', 'clean+thin']
    assert len({x.key for x in both}) == 4  # rows of the two profiles never mix


def _sub(sid, body, flags=1):
    return bytes([sid, flags]) + struct.pack('<H', len(body)) + body


def _datagram(*subs):
    return b'RTPS' + bytes(16) + b''.join(subs)


def test_census_counts_what_rides_in_a_user_data_datagram():
    data = _sub(0x15, bytes(8) + struct.pack('>I', 0x00001303) + bytes(100))  # user writer
    dg = _datagram(_sub(0x0e, bytes(12)), _sub(0x09, bytes(8)), data, _sub(0x80, bytes(56)))
    assert rtps_census.classify(dg) == 'user_data'
    assert rtps_census.riders(dg) == {'rtps_header': 20, 'info_dst': 16, 'info_ts': 12, 'statistics': 60}
    assert rtps_census.entities(dg) == 'DST12,TS8,DATA:00001303,0x8056'
    spdp = _datagram(_sub(0x15, bytes(8) + struct.pack('>I', 0x000100c2) + bytes(200)))
    assert rtps_census.classify(spdp) == 'spdp'


def _row(robots=4, total_up=2000.0):
    return FleetRow('ladon@1', 'clean+thin', 5.0, robots, 2.0, 1, 2, 2, 10, 20, 0, 0.01, 0.3, 1, 10,
                    extra={'overhead_up_bps_per_robot': total_up})


def test_overhead_split_and_protocol_overhead():
    row = _row()
    up = {'seconds': 10.0, 'bytes': {'spdp': 500, 'user_data': 10000},
          'user_data_riders': {'statistics': 1200, 'info_dst': 320, 'piggyback_hb': 100, 'info_ts': 240}}
    row.extra.update(census_per_robot_bps(up, None, row.robots))
    assert row.extra['census_up_bps']['spdp'] == pytest.approx(100.0)  # 500 B * 8 / 10 s / 4 robots
    assert row.extra['census_down_bps'] == {}
    split = census_overhead_split(row, 'up')
    assert split['spdp'] == pytest.approx(100.0)
    assert split['framing:statistics'] == pytest.approx(240.0)
    assert split['framing:info_dst'] == pytest.approx(64.0)
    assert split['piggyback_hb'] == pytest.approx(20.0)
    assert sum(split.values()) == pytest.approx(2000.0)  # the residual closes the total
    assert protocol_overhead_bps(row, 'up') == pytest.approx(2000.0 - 240.0 - 64.0)
    assert math.isnan(protocol_overhead_bps(row, 'down'))  # no census, no split


def test_join_seconds_from_the_first_result():
    recs = [{'topic': 'classification', 't': 9.0, 'stamp': 8.0},
            {'topic': 'frame_stats', 't': 11.0, 'stamp': 10.5, 'seq': 5}]
    assert join_seconds(recs, 10.0) == pytest.approx(11.0 - (10.5 - 0.5))
    assert math.isnan(join_seconds([], 2.0))
