"""Link floor math and row summaries."""
import math

import pytest

from ladon_bench.link.floor import BenchRow, link_floor_ms, percentile, slope_per_s, wire_bytes


def test_wire_bytes_counts_fragment_headers():
    small = wire_bytes(1000)
    assert 1000 < small < 1000 + 300  # one packet: payload + message + RTPS/UDP/IP/Ethernet
    big = wire_bytes(200_000)
    packets = math.ceil(200_000 / 1480)
    assert big >= 200_000 + packets * 34
    assert big < 200_000 * 1.05


def test_floor_adds_camera_transmission_and_edge_time():
    # 5 Mbit/s: one byte takes 1.6 us.
    tx = wire_bytes(25_000) * 8 / 5e6 * 1e3
    assert link_floor_ms(camera_ms=10, payload_bytes=25_000, link_mbps=5, edge_ms=40) == pytest.approx(50 + tx)
    assert link_floor_ms(camera_ms=10, payload_bytes=25_000, link_mbps=5, edge_ms=40, delay_ms=20) == \
        pytest.approx(70 + tx)
    assert link_floor_ms(camera_ms=100, payload_bytes=0, link_mbps=None, edge_ms=0) == 100


def test_percentile_and_slope():
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(range(101), 95) == pytest.approx(95)
    assert math.isnan(percentile([], 50))
    assert slope_per_s([0, 1, 2, 3], [10, 20, 30, 40]) == pytest.approx(10)
    assert slope_per_s([0, 1, 2, 3], [5, 5, 5, 5]) == 0
    assert slope_per_s([0, 1], [0, 100]) == 0


def test_row_json_has_the_contract_fields_first_and_no_nan():
    row = BenchRow('jpeg@75', 'clean', 5.0, 20_000, 10, 0, 1.0, math.nan, math.nan, 55.0, {'encode_ms_p50': 2.0})
    d = row.to_json()
    assert list(d)[:10] == ['codec', 'setting', 'link_mbps', 'bytes_per_frame', 'fps_offered', 'fps_delivered',
                            'drop_rate', 'latency_p50_ms', 'latency_p95_ms', 'floor_ms']
    assert d['latency_p50_ms'] is None and d['encode_ms_p50'] == 2.0


def test_a_case_that_delivered_no_frame_has_a_nan_floor():
    # Every cell of the case empty (its encoder died): no frame size, no compute times. The
    # report says so (nan) instead of ending the benchmark with a traceback.
    nan = float('nan')
    assert math.isnan(wire_bytes(nan))
    assert math.isnan(link_floor_ms(camera_ms=nan, payload_bytes=nan, link_mbps=5.0, edge_ms=nan))
