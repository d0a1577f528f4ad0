"""The fleet benchmark: its numbers from records (pure), the CPU quota, and a short run on the real link.

The record/metric tests need nothing. The quota and the short run need root, cgroup v1 and
``ip netns``; they are skipped with the reason otherwise. The short run: 2 robots, one
codec, one link rate shaped both ways, a few seconds, each robot in a 0.5-core quota.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import pytest

from ladon_ros.bench.fleet.metrics import (CellInput, batch_sizes, cell_row, equal_accuracy_pairs, floor_robots,
                                           frames_of, headline, search_done)
from ladon_ros.bench.link.floor import wire_bytes
from ros_domains import ros_domain


def _frame_records(stamp: float, arrive: float, *, seq: int, heads: float = 20.0, edge='base1', seg_bytes=1500,
                   lost: str = '') -> list[dict]:
    recs = []
    for topic, nbytes in (('classification', 120), ('detections', 300), ('segmentation/compressed', seg_bytes),
                          ('frame_stats', 200)):
        if topic == lost:
            continue
        r = {'t': arrive, 'topic': topic, 'stamp': stamp, 'bytes': nbytes, 'served_by': edge, 'total_ms': None}
        if topic == 'frame_stats':
            r.update(total_ms=(arrive - stamp) * 1e3 - 5.0, seq=seq, payload_bytes=900, encode_ms=3.0,
                     transit_ms=4.0, decode_ms=5.0, heads_ms=heads)
        recs.append(r)
    return recs


def _robot(fps: float, t0: float, seconds: float, latency_s: float, every: int = 1, seq0: int = 0) -> list[dict]:
    recs = []
    for i in range(int(seconds * fps)):
        if i % every:
            continue
        stamp = t0 + i / fps
        recs += _frame_records(stamp, stamp + latency_s, seq=seq0 + i, heads=10.0 + i)
    return recs


def _cell(**kw) -> CellInput:
    base = dict(codec='ladon@1', setting='clean', link_mbps=1.0, robots=2, fps=10.0, edges=1, t0=100.0, t1=110.0,
                t_check=112.0, budget_ms=250.0, up_tx_bytes=10**6, down_tx_bytes=10**6, up_tx_bytes_check=10**6,
                down_tx_bytes_check=10**6, edge_cpu_s=(5.0,), player_cpu_s=1.0, encode_ms_p50=3.0)
    base.update(kw)
    return CellInput(**base)


def test_frames_count_once_and_need_every_result():
    recs = _frame_records(1.0, 1.1, seq=0) + _frame_records(1.0, 1.2, seq=0)  # a duplicate delivery
    recs += _frame_records(2.0, 2.1, seq=1, lost='segmentation/compressed')
    frames = frames_of(recs)
    assert frames[1.0]['bytes'] == 120 + 300 + 1500 + 200
    assert frames[1.0]['t']['detections'] == 1.1
    from ladon_ros.bench.fleet.metrics import complete
    assert complete(frames[1.0]) and not complete(frames[2.0])


def test_cell_passes_only_when_every_robot_gets_90_percent_within_budget():
    fast = _robot(10, 100.0, 10, 0.1)
    ok = cell_row(_cell(), [fast, _robot(10, 100.0, 10, 0.1, seq0=50)])
    assert ok.within_budget and ok.fps_delivered_min == pytest.approx(10.0, rel=0.02)
    assert ok.latency_p50_ms == pytest.approx(100.0, abs=1.0)
    assert ok.extra['latency_edge_p50_ms'] == pytest.approx(95.0, abs=1.0)
    assert ok.extra['bytes_up_per_frame'] == 900 and ok.extra['bytes_down_per_frame'] == 2120
    assert ok.extra['fps_published_min'] == pytest.approx(10.0, rel=0.02)
    assert ok.drop_rate == pytest.approx(0.0, abs=0.02)
    # One robot gets only every second frame: the cell fails although the other is perfect.
    starved = cell_row(_cell(), [fast, _robot(10, 100.0, 10, 0.1, every=2)])
    assert not starved.within_budget and starved.fps_delivered_min == pytest.approx(5.0, rel=0.05)
    # Every frame arrives but late: fails on the p95.
    late = cell_row(_cell(), [_robot(10, 100.0, 10, 0.3), _robot(10, 100.0, 10, 0.3)])
    assert not late.within_budget and late.latency_p95_ms == pytest.approx(300.0, abs=1.0)
    # Nothing arrived: fails, with NaN latencies rather than a crash.
    empty = cell_row(_cell(), [[], []])
    assert not empty.within_budget and empty.fps_delivered_min == 0.0 and math.isnan(empty.latency_p50_ms)


def test_rows_read_back_from_json_for_reports_of_several_runs():
    from ladon_ros.bench.fleet.metrics import FleetRow
    row = cell_row(_cell(robots=1), [[]])  # NaN latencies
    back = FleetRow.from_json(row.to_json())
    assert back.codec == row.codec and back.robots == 1 and math.isnan(back.latency_p50_ms)
    assert back.extra['veth_up_covers_served'] == row.extra['veth_up_covers_served']
    assert headline([back]) == headline([row]) or math.isnan(headline([row])[0]['within_over_floor'])


def test_veth_checks_catch_a_bypass():
    recs = [_robot(10, 100.0, 10, 0.1)]
    honest = cell_row(_cell(robots=1), recs)
    assert honest.extra['veth_up_covers_served'] and honest.extra['veth_down_covers_received']
    bypass = cell_row(_cell(robots=1, up_tx_bytes_check=1000, down_tx_bytes_check=1000), recs)
    assert not bypass.extra['veth_up_covers_served'] and not bypass.extra['veth_down_covers_received']


def test_batches_are_frames_of_one_edge_with_one_heads_share_published_together():
    stats = [{'served_by': 'a', 'heads_ms': 7.5, 'stamp': 1.0, 'total_ms': 50.0},
             {'served_by': 'a', 'heads_ms': 7.5, 'stamp': 1.01, 'total_ms': 42.0},
             {'served_by': 'a', 'heads_ms': 7.5, 'stamp': 1.02, 'total_ms': 35.0},
             {'served_by': 'a', 'heads_ms': 7.5, 'stamp': 5.0, 'total_ms': 50.0},   # same share, much later
             {'served_by': 'b', 'heads_ms': 7.5, 'stamp': 1.0, 'total_ms': 50.0},   # other edge
             {'served_by': 'a', 'heads_ms': 9.0, 'stamp': 1.0, 'total_ms': 50.0}]
    assert sorted(batch_sizes(stats)) == [1, 1, 1, 3]


def test_floor_is_the_scarcest_of_link_up_link_down_and_edge():
    # 1 Mbit/s, 10 Hz: 900 B up -> ~11 robots; 2 kB down -> ~6; edge 50 ms/frame -> 2 per edge.
    assert floor_robots(link_mbps=1, fps=10, up_bytes=900, down_msgs_bytes=2000, edges=1, edge_ms=50) == 2.0
    assert floor_robots(link_mbps=1, fps=10, up_bytes=900, down_msgs_bytes=2000, edges=4, edge_ms=50) == \
        pytest.approx(1e6 / (8 * 10 * (2000 + 3 * (68 + 8 + 34) + 68 + 8 + 2 * 34)), rel=0.01)
    raw = floor_robots(link_mbps=1, fps=10, up_bytes=49182, down_msgs_bytes=2000, edges=2, edge_ms=50)
    assert raw == pytest.approx(1e6 / (wire_bytes(49182) * 8 * 10)) and raw < 1


def test_search_stops_after_two_failures_in_a_row_and_headline_takes_the_largest_pass():
    def row(n, ok):
        r = cell_row(_cell(robots=n), [_robot(10, 100.0, 10, 0.1 if ok else 0.4)] * n)
        assert r.within_budget is ok
        return r
    rows = [row(1, True), row(2, False), row(4, True), row(8, False)]
    assert not search_done(rows[:2]) and not search_done(rows[:3]) and not search_done(rows)
    rows.append(row(16, False))
    assert search_done(rows)
    (h,) = headline(rows)
    assert h['robots_within_budget'] == 4 and h['robots_tried'] == [1, 2, 4, 8, 16]


def test_equal_accuracy_pairs_take_the_cheapest_setting_at_least_as_accurate():
    def r(codec, setting, m):
        return {'codec': codec, 'setting': setting, 'bytes_per_frame': 1.0, 'metric_name': 'mAP@[.5:.95]',
                'metric': m}
    rows = {'detection': [r('ladon', 1.0, 0.45), r('ladon', 4.0, 0.60), r('jpeg', 10, 0.43), r('jpeg', 20, 0.47),
                          r('jpeg', 40, 0.50), r('webp', 5, 0.46)]}
    pairs = equal_accuracy_pairs(rows)
    assert pairs[1.0]['jpeg'] == (20, 0.47) and pairs[1.0]['webp'] == (5, 0.46)
    assert pairs[4.0]['jpeg'] is None  # nothing as accurate


# --- root: CPU quota and the real link -------------------------------------------------

def _reason() -> str | None:
    from ladon_ros.bench.link import cgroup
    from ladon_ros.bench.link.netns import unavailable_reason
    return unavailable_reason() or cgroup.unavailable_reason()


REASON = _reason()
needs_root = pytest.mark.skipif(REASON is not None, reason=f'fleet bench: {REASON}')


@pytest.mark.netns
@needs_root
def test_cpu_quota_slows_a_process_and_is_removed_even_after_kill_9():
    from ladon_ros.bench.link.cgroup import CpuQuota, cleanup_stale, our_groups
    spin = [sys.executable, '-c', 'import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n']

    def wall(quota):
        p = subprocess.Popen(['taskset', '-c', '0', *spin])  # one core, so the quota is the only limit
        if quota is not None:
            quota.add(p.pid)
        t0 = time.monotonic()
        p.wait(60)
        return time.monotonic() - t0
    with CpuQuota(0.2) as q:
        assert int((q.path / 'cpu.cfs_quota_us').read_text()) == int((q.path / 'cpu.cfs_period_us').read_text()) // 5
        slow = wall(q)
        name = q.path.name
    assert name not in our_groups()
    # 0.3 CPU-s at 0.2 core take >= 1.5 s whatever else runs (alone on an idle core: ~0.3 s).
    assert slow >= 0.3 / 0.2 * 0.9, slow
    # An owner killed with SIGKILL leaves its group; cleanup_stale removes it (and its processes).
    code = ('import subprocess, sys, time; from ladon_ros.bench.link.cgroup import CpuQuota\n'
            'q = CpuQuota(0.5); p = subprocess.Popen(["sleep", "60"]); q.add(p.pid)\n'
            'print(q.path.name, p.pid, flush=True); time.sleep(60)\n')
    owner = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    try:
        name, child = owner.stdout.readline().split()
    finally:
        owner.kill()
        owner.wait()
    assert name in our_groups()
    assert name in cleanup_stale()
    assert name not in our_groups()
    time.sleep(0.2)
    assert not os.path.exists(f'/proc/{child}') or open(f'/proc/{child}/stat').read().split()[2] == 'Z'


@pytest.mark.netns
@pytest.mark.ros
@needs_root
def test_short_fleet_run_serves_two_robots_across_the_shaped_veth(tmp_path, install_space):
    """2 robots (0.5-core quota each), Ladon's middle point, 5 Mbit/s both ways, 1 edge, 3 s."""
    from ladon_ros.bench.fleet.harness import FleetBench, FleetConfig
    from ladon_ros.bench.fleet.report import headline_table, markdown_table, write_json
    from ladon_ros.bench.link.cases import parse_codecs
    from ladon_ros.bench.link.cgroup import our_groups
    from ladon_ros.bench.link.netns import our_namespaces
    mine = f'ldn{os.getpid()}_'
    cases = parse_codecs('ladon')
    cfg = FleetConfig(cases=(cases[len(cases) // 2],), rates_mbps=(5.0,), out_dir=tmp_path, robots=(2,), fps=(5.0,),
                      edges=(1,), robot_cpu=0.5, seconds=3.0, settle_s=1.0, domain_id=ros_domain('fleet_bench'),
                      start_timeout_s=240.0)
    rows = FleetBench(cfg, log=lambda s: None).run()
    assert not [n for n in our_namespaces() if n.startswith(mine)], 'namespaces left behind'
    assert not [g for g in our_groups() if g.startswith(f'ldnq{os.getpid()}_')], 'cgroups left behind'
    (row,) = rows
    logs = sorted(os.listdir(tmp_path / 'logs'))
    assert row.robots == 2 and row.extra['frames_delivered'] > 0, logs
    assert row.fps_delivered_min > 0, row.to_json()  # both robots got results back
    e = row.extra
    assert e['bytes_up_per_frame'] > 0 and e['bytes_down_per_frame'] > 0
    # UDP through the veth in both directions: it carried at least what was served / received.
    assert e['veth_up_covers_served'] and e['veth_down_covers_received'], row.to_json()
    assert 0 < row.link_util < 1 and 0 < row.edge_util <= 1.05 and row.floor_robots > 0
    assert row.batch_mean >= 1
    text = markdown_table(rows) + headline_table(rows)
    assert row.codec in text
    write_json(rows, tmp_path / 'fleet.json')
