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

from ladon_bench.fleet import plan as planning
from ladon_bench.fleet.accuracy import equal_accuracy, extra_settings
from ladon_bench.fleet.metrics import CellInput, batch_sizes, cell_row, floor_robots, frames_of, headline
from ladon_bench.link.floor import wire_bytes
from ros_harness import ros_domain


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
    from ladon_bench.fleet.metrics import complete
    assert complete(frames[1.0]) and not complete(frames[2.0])


def _bundled(recs: list[dict]) -> list[dict]:
    """The same frames as the thin robot receives them: one perception/results message each."""
    out = {}
    for r in recs:
        b = out.setdefault(r['stamp'], {'topic': 'results', 'bytes': 0})
        b['bytes'] += r['bytes']
        b.update({k: v for k, v in r.items() if k not in ('topic', 'bytes')} if r['topic'] == 'frame_stats' else {})
    return list(out.values())


def test_one_results_message_per_frame_is_a_complete_frame_with_less_framing():
    split = _robot(10.0, 100.0, 10.0, 0.05) + _robot(10.0, 100.0, 10.0, 0.06)
    one = _bundled(_robot(10.0, 100.0, 10.0, 0.05)) + _bundled(_robot(10.0, 100.0, 10.0, 0.06))
    frames = frames_of(one)
    assert len(frames) == 100 and all(len(f['t']) == 1 and 'stats' in f for f in frames.values())
    a, b = cell_row(_cell(robots=1), [split[:400]]), cell_row(_cell(robots=1), [one[:100]])
    assert a.extra['frames_delivered'] == b.extra['frames_delivered'] == 100
    assert a.extra['bytes_down_per_frame'] == b.extra['bytes_down_per_frame']  # the same CDR bytes
    assert (a.extra['result_messages_per_frame'], b.extra['result_messages_per_frame']) == (4, 1)
    # Three datagrams fewer per frame: the down link carries more robots, and the same veth
    # bytes leave more per-robot overhead once the modelled messages are fewer.
    assert b.extra['floor_link_down_robots'] > a.extra['floor_link_down_robots']
    assert b.extra['overhead_down_bps_per_robot'] > a.extra['overhead_down_bps_per_robot']
    assert b.edges == a.edges and b.fps_delivered_min == a.fps_delivered_min


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
    from ladon_bench.fleet.metrics import FleetRow
    row = cell_row(_cell(robots=1), [[]])  # NaN latencies
    back = FleetRow.from_json(row.to_json())
    assert back.codec == row.codec and back.robots == 1 and math.isnan(back.latency_p50_ms)
    assert back.extra['veth_up_covers_served'] == row.extra['veth_up_covers_served']
    assert headline([back]) == headline([row]) or math.isnan(headline([row])[0]['within_over_floor'])


def test_plots_survive_a_cell_where_no_robot_got_a_result(tmp_path):
    # An overload cell (96 robots on 2 cores) once served nobody in its window: the log-scaled
    # latency axis had no positive value and matplotlib raised after the run, losing the plots.
    from ladon_bench.fleet.report import plot_vs_robots
    empty = cell_row(_cell(robots=96), [[] for _ in range(3)])
    assert math.isnan(empty.latency_p95_ms)
    assert plot_vs_robots([empty], tmp_path / 'vs.png', 250.0).is_file()


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


def _run_search(answer: int, start: int, cap: int = 32, resolution: float = 0.2, max_bisect: int = 99) -> list[int]:
    results, tried = {}, []
    kw = dict(start=start, cap=cap, resolution=resolution, max_bisect=max_bisect)
    n = planning.next_count(results, **kw)
    while n is not None:
        assert n not in results, (n, tried)
        tried.append(n)
        results[n] = n <= answer
        n = planning.next_count(results, **kw)
    return tried


def test_protocol_overhead_is_the_veth_bytes_beyond_frames_and_results_and_enters_the_floor():
    from ladon_bench.fleet.metrics import result_wire_bytes
    recs = [_robot(10, 100.0, 10, 0.1), _robot(10, 100.0, 10, 0.1, seq0=100)]
    frames_up = 2 * 100 * wire_bytes(900)
    results_down = sum(result_wire_bytes(b) for b in (120, 300, 1500, 200)) * 200
    extra = 2 * 10 * 3000   # 2 robots x 10 s x 24 kbit/s each way
    row = cell_row(_cell(up_tx_bytes=int(frames_up + extra), down_tx_bytes=int(results_down + extra),
                         diag_batches=50, diag_frames_batched=150), recs)
    e = row.extra
    assert e['overhead_up_bps_per_robot'] == pytest.approx(24000, rel=0.01)
    assert e['overhead_down_bps_per_robot'] == pytest.approx(24000, rel=0.01)
    assert e['floor_proto_link_up_robots'] == pytest.approx(1e6 / (wire_bytes(900) * 8 * 10 + 24000), rel=0.01)
    assert e['floor_proto_link_up_robots'] < e['floor_link_up_robots']
    # The edge floor from the edges' CPU per served frame: 5 CPU-s for 200 frames = 25 ms -> 4 robots at 10 Hz.
    assert e['floor_edge_cpu_robots'] == pytest.approx(4.0, rel=0.01) and e['floor_proto_robots'] == e[
        'floor_edge_cpu_robots']
    # Realised batch from the edges' own counters, not the estimate.
    assert row.batch_mean == 3.0 and e['batch_source'] == 'edge diagnostics'
    # A saturated link (tbf drops) measures no overhead: the prior is used for the floor instead.
    full = cell_row(_cell(up_tx_bytes=int(frames_up + extra), qdisc_drops_up=5, overhead_prior_up_bps=50000.0), recs)
    assert math.isnan(full.extra['overhead_up_bps_per_robot']) and full.extra['overhead_used_up_bps'] == 50000.0
    assert full.extra['batch_source'].startswith('estimate')


def test_search_climbs_the_ladder_then_bisects_to_the_resolution():
    assert _run_search(12, start=8) == [8, 16, 12, 14]          # answer 12: 12 passes, 14 fails
    assert _run_search(20, start=8) == [8, 16, 32, 24, 20]      # stops: 24 - 20 <= 0.2 x 20
    assert _run_search(5, start=8) == [8, 4, 6, 5]              # first cell fails: down the ladder
    assert _run_search(0, start=4) == [4, 2, 1]                 # nothing passes: 0 robots
    assert _run_search(32, start=8) == [8, 16, 32]              # the ladder's top passes
    # The cap (1.2x the link floor) replaces ladder counts the link cannot carry.
    assert _run_search(9, start=4, cap=7) == [4, 7]
    # At most two bisection cells: the answer within the last gap.
    assert _run_search(17, start=4, max_bisect=2) == [4, 8, 16, 32, 24, 20]
    # No bisection at resolution 1: the ladder alone.
    assert _run_search(12, start=1, resolution=1.0) == [1, 2, 4, 8, 16]


def test_a_failed_first_cell_is_measured_again_and_only_the_first():
    # The harness's loop: a failing cell for which confirm_failure says so is measured once more.
    def search(answer, start, disturbed_first):
        results, tried = {}, []
        n = planning.next_count(results, start=start, cap=32)
        while n is not None:
            passed = n <= answer and not (disturbed_first and not tried)
            tried.append(n)
            if planning.confirm_failure(results, passed):
                passed = n <= answer  # the second window: the disturbance is over
                tried.append(n)
            results[n] = passed
            n = planning.next_count(results, start=start, cap=32)
        return max((n for n, ok in results.items() if ok), default=0), tried
    # Measured: jpeg@9 failed its first cell (4 robots) and ended at 3 against a floor of 14.
    assert search(14, 4, disturbed_first=True) == (14, [4, 4, 8, 16, 12, 14])
    assert search(14, 4, disturbed_first=False) == (14, [4, 8, 16, 12, 14])
    # A genuine failure of the first cell costs one more cell and still steps down.
    assert search(5, 8, disturbed_first=False) == (5, [8, 8, 4, 6, 5])
    # Later failures are believed at once (the robots were already there).
    assert not planning.confirm_failure({8: True}, False) and not planning.confirm_failure({}, True)


def test_headline_takes_the_largest_pass_and_lists_skipped_searches():
    def row(n, ok):
        r = cell_row(_cell(robots=n), [_robot(10, 100.0, 10, 0.1 if ok else 0.4)] * n)
        assert r.within_budget is ok
        return r
    rows = [row(1, True), row(2, False), row(4, True), row(8, False)]
    skip = {'codec': 'raw', 'setting': 'clean', 'link_mbps': 1.0, 'fps': 10.0, 'edges': 1, 'why': 'headline',
            'skipped': '0 robots: one frame alone ...', 'robots_within_budget': 0}
    h, s = headline(rows, [skip])
    assert h['robots_within_budget'] == 4 and h['robots_tried'] == [1, 2, 4, 8]
    assert s['skipped'] and s['robots_within_budget'] == 0 and s['codec'] == 'raw'


def test_static_skips_only_what_cannot_pass():
    s = planning.Search('raw', 'clean', 1.0, 2.0, 1)
    assert 'takes 405 ms' in planning.static_skip(s, frame_bytes=49182, budget_ms=250, overhead_bps=24e3)
    assert planning.static_skip(planning.Search('raw', 'clean', 5.0, 2.0, 1), frame_bytes=49182, budget_ms=250,
                                overhead_bps=24e3) is None
    # Lossy: 34 fragments at 2 % loss -> about half the frames arrive whole; 1 packet -> 98 %.
    assert '34 packets' in planning.static_skip(planning.Search('raw', 'lossy', 5.0, 2.0, 1), frame_bytes=49182,
                                                budget_ms=250, overhead_bps=24e3, loss=0.02)
    assert planning.static_skip(planning.Search('ladon@1', 'lossy', 5.0, 2.0, 1), frame_bytes=900, budget_ms=250,
                                overhead_bps=24e3, loss=0.02) is None
    # Link floor below one robot although a frame fits the budget (10 Hz, 20 kB at 1 Mbit/s).
    assert 'link floor' in planning.static_skip(planning.Search('jpeg@99', 'clean', 1.0, 10.0, 1),
                                                frame_bytes=20000, budget_ms=250, overhead_bps=24e3)
    assert planning.frame_packets(49182) == 34 and planning.frame_packets(900) == 1


def test_second_edge_skipped_only_when_the_link_stopped_the_first():
    def cell(n, ok, up):
        return cell_row(_cell(robots=n, up_tx_bytes=int(up * 1e6 / 8 * 10)),
                        [_robot(10, 100.0, 10, 0.1 if ok else 0.4)] * n)
    two = planning.Search('raw', 'clean', 5.0, 2.0, 2)
    link_bound = [cell(4, True, 0.5), cell(8, False, 0.97)]
    assert planning.stopped_by(link_bound) == 'link'
    assert 'link-limited' in planning.second_edge_skip(two, link_bound)
    edge_bound = [cell(4, True, 0.1), cell(8, False, 0.2)]   # edge util of _cell: 5 CPU-s / 10 s = 50 %
    assert planning.stopped_by(edge_bound) == 'latency'
    assert planning.second_edge_skip(two, edge_bound) is None
    assert planning.second_edge_skip(planning.Search('raw', 'clean', 5.0, 2.0, 1), link_bound) is None


def test_standard_plan_covers_the_headline_and_runs_the_rest_where_bytes_matter():
    plan = planning.standard_plan('ladon@1', ['ladon@0.25', 'ladon@1', 'ladon@4'], ['jpeg@14', 'webp@9'], 5.0)
    keys = {p.key for p in plan}
    for codec in ('ladon@1', 'jpeg@75', 'raw'):
        for rate in (1.0, 5.0, 20.0):
            for edges in (1, 2):
                assert (codec, 'clean', rate, 2.0, edges) in keys
    assert ('jpeg@14', 'clean', 1.0, 2.0, 2) in keys and ('ladon@4', 'clean', 1.0, 2.0, 2) in keys
    assert ('ladon@1', 'lossy', 5.0, 2.0, 1) in keys and ('ladon@1', 'clean', 1.0, 10.0, 1) in keys
    assert len(keys) == len(plan)
    # Edge groups are contiguous (the edges start once per group).
    groups = [(p.setting, p.edges) for p in plan]
    assert groups == sorted(groups, key=lambda g: [x for i, x in enumerate(groups) if x not in groups[:i]].index(g))


def test_equal_accuracy_interpolates_quality_and_bytes_between_measured_qualities():
    def r(codec, setting, m, b):
        return {'codec': codec, 'setting': setting, 'bytes_per_frame': b, 'metric_name': 'mAP@[.5:.95]',
                'metric': m}
    rows = {'detection': [r('ladon', 1.0, 0.45, 900.0), r('ladon', 4.0, 0.60, 400.0), r('ladon', 9.0, 0.30, 300.0),
                          r('jpeg', 10, 0.40, 1400.0), r('jpeg', 20, 0.50, 1800.0),
                          r('webp', 5, 0.46, 700.0), r('webp', 20, 0.50, 1100.0),
                          {**r('jpeg', 90, 0.9, 9.0), 'metric_name': 'mAP@.5'}]}   # other metric: ignored
    pairs = equal_accuracy(rows)
    j = pairs[1.0]['jpeg']
    # Linear in quality, log-linear in bytes (eval.curve.at_metric): sqrt(1400 x 1800).
    assert j['quality'] == pytest.approx(15.0) and j['run'] == 15 and j['bytes'] == pytest.approx((1400 * 1800) ** .5)
    assert j['bracket'] == [10.0, 20.0] and j['bytes_ratio'] == pytest.approx(900 / (1400 * 1800) ** .5)
    # Already reached by the lowest quality: that quality, flagged as a bound.
    assert pairs[1.0]['webp']['run'] == 5 and pairs[1.0]['webp']['bound'] == 'lowest quality'
    assert pairs[4.0]['jpeg'] is None and pairs[4.0]['webp'] is None     # nothing as accurate
    assert pairs[9.0]['jpeg']['run'] == 10
    assert extra_settings(pairs, [1.0, 4.0]) == ['jpeg@15', 'webp@5']


# --- root: CPU quota and the real link -------------------------------------------------

def _reason() -> str | None:
    from ladon_bench.link import cgroup
    from ladon_bench.link.netns import unavailable_reason
    return unavailable_reason() or cgroup.unavailable_reason()


REASON = _reason()
needs_root = pytest.mark.skipif(REASON is not None, reason=f'fleet bench: {REASON}')


@pytest.mark.netns
@needs_root
def test_cpu_quota_slows_a_process_and_is_removed_even_after_kill_9():
    from ladon_bench.link.cgroup import CpuQuota, cleanup_stale, our_groups
    spin = [sys.executable, '-c', 'import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n']

    def wall(quota):
        p = subprocess.Popen(['taskset', '-c', '0', *spin])  # one core, so the quota is the only limit
        if quota is not None:
            quota.add(p.pid)
        t0 = time.monotonic()
        p.wait(60)
        return time.monotonic() - t0
    def short_job(quota):
        """Wall time of a 20 ms CPU job started once the process is in the group."""
        # (after a pause: the interpreter's start-up spent the quota of its periods)
        code = ('import sys, time\nsys.stdin.readline()\ntime.sleep(0.25)\n'
                'w, t = time.monotonic(), time.process_time()\n'
                'while time.process_time() - t < 0.02: pass\nprint(time.monotonic() - w)\n')
        p = subprocess.Popen(['taskset', '-c', '0', sys.executable, '-c', code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        quota.add(p.pid)
        out, _ = p.communicate('go\n', timeout=60)
        return float(out)
    with CpuQuota(0.2) as q:
        assert int((q.path / 'cpu.cfs_period_us').read_text()) == 10_000
        assert int((q.path / 'cpu.cfs_quota_us').read_text()) == 2_000
        slow = wall(q)
        # A job shorter than the kernel's default 100 ms period is slowed too (with that period a
        # 20 ms job fitted in the 20 ms of quota and ran at full speed: a bursty CPU, not a slow one).
        short = short_job(q)
        name = q.path.name
    assert name not in our_groups()
    # 0.3 CPU-s at 0.2 core take >= 1.5 s whatever else runs (alone on an idle core: ~0.3 s).
    assert slow >= 0.3 / 0.2 * 0.9, slow
    assert short >= 0.02 / 0.2 * 0.7, short  # ~0.1 s; full speed would be 0.02 s
    with CpuQuota(0.05) as q:  # the kernel's 1 ms floor of quota: a longer period, same share
        assert int((q.path / 'cpu.cfs_period_us').read_text()) == 20_000
        assert int((q.path / 'cpu.cfs_quota_us').read_text()) == 1_000
    # An owner killed with SIGKILL leaves its group; cleanup_stale removes it (and its processes).
    code = ('import subprocess, sys, time; from ladon_bench.link.cgroup import CpuQuota\n'
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
    from ladon_bench.fleet.harness import FleetBench, FleetConfig
    from ladon_bench.fleet.report import headline_table, markdown_table, write_json
    from ladon_bench.link.cases import parse_codecs
    from ladon_bench.link.cgroup import our_groups
    from ladon_bench.link.netns import our_namespaces
    mine = f'ldn{os.getpid()}_'
    cases = parse_codecs('ladon')
    cfg = FleetConfig(cases=(cases[len(cases) // 2],), rates_mbps=(5.0,), out_dir=tmp_path, robots=(2,), fps=(5.0,),
                      edges=(1,), robot_cpu=0.5, seconds=3.0, settle_s=1.0, domain_id=ros_domain('fleet_bench'),
                      start_timeout_s=240.0)
    rows = FleetBench(cfg, log=lambda s: None).run()
    assert not [n for n in our_namespaces() if n.startswith(mine)], 'namespaces left behind'
    assert not [g for g in our_groups() if g.startswith(f'ldnq{os.getpid()}_')], 'cgroups left behind'
    row = rows[0]  # a second cell (1 robot) follows only if 2 missed the budget on a loaded machine
    logs = sorted(os.listdir(tmp_path / 'logs'))
    assert row.robots == 2 and row.extra['frames_delivered'] > 0, logs
    assert row.fps_delivered_min > 0, row.to_json()  # both robots got results back
    e = row.extra
    assert e['bytes_up_per_frame'] > 0 and e['bytes_down_per_frame'] > 0
    # UDP through the veth in both directions: it carried at least what was served / received.
    assert e['veth_up_covers_served'] and e['veth_down_covers_received'], row.to_json()
    assert 0 < row.link_util < 1 and 0 < row.edge_util <= 1.05 and row.floor_robots > 0
    assert row.batch_mean >= 1 and row.extra['batch_source'] == 'edge diagnostics', row.to_json()
    text = markdown_table(rows) + headline_table(rows)
    assert row.codec in text
    write_json(rows, tmp_path / 'fleet.json')


def test_announcement_period_what_if_changes_only_the_period(tmp_path):
    from ladon_bench.link.fastdds import write_udp_profile
    default = write_udp_profile(tmp_path / 'a.xml').read_text()
    slow = write_udp_profile(tmp_path / 'b.xml', announce_s=3.0).read_text()
    assert '<nanosec>500000000</nanosec>' in default.replace(' ', '').replace('\n', '')
    assert '<leaseAnnouncement><sec>3</sec><nanosec>0</nanosec></leaseAnnouncement>' in slow
    strip = lambda t: t[:t.index('<leaseAnnouncement>')] + t[t.index('</leaseAnnouncement>'):]  # noqa: E731
    assert strip(default) == strip(slow)


def test_queueing_floor_is_below_the_throughput_floor_when_a_frame_is_a_large_part_of_the_budget():
    raw = wire_bytes(49182)
    # 5 Mbit/s, 2 Hz: the link carries 6 raw robots' bytes, but one frame needs 81 ms: queues
    # of frames that arrive together push the p95 past 250 ms at fewer robots.
    through = planning.link_floor(5.0, 2.0, 49182, 24e3)
    within = planning.latency_link_floor(link_mbps=5.0, fps=2.0, wire_per_frame=raw, overhead_bps=24e3,
                                         fixed_ms=40.0, budget_ms=250.0)
    assert 5.9 < through < 6.1 and 2 <= within <= 5
    # One robot alone: its frame's own serialisation.
    assert planning.queue_p95_ms(1, 2.0, 81.0) == pytest.approx(81.0)
    # Small frames: queueing costs little, the budget admits nearly the throughput floor.
    small = planning.latency_link_floor(link_mbps=1.0, fps=2.0, wire_per_frame=wire_bytes(904), overhead_bps=24e3,
                                        fixed_ms=50.0, budget_ms=250.0)
    assert 0.8 * planning.link_floor(1.0, 2.0, 904, 24e3) <= small <= planning.link_floor(1.0, 2.0, 904, 24e3)
    # Nothing fits: one frame alone exceeds the budget.
    assert planning.latency_link_floor(link_mbps=1.0, fps=2.0, wire_per_frame=raw, overhead_bps=0, fixed_ms=0,
                                       budget_ms=250.0) == 0


def test_a_bad_codec_list_is_refused_with_a_message_not_a_traceback(tmp_path, capsys):
    from ladon_ros.cli import main
    assert main(['bench-fleet', '--codecs', 'jpeg@75,jpeg@75', '--link-mbps', '5', '--robots', '2', '--fps', '2',
                 '--edges', '1', '--no-equal-accuracy', '--plan-only', '--out', str(tmp_path)]) == 2
    assert "bench-fleet: duplicate codecs ['jpeg@75']" in capsys.readouterr().err


def test_edge_params_are_checked_against_the_edge_and_typed_as_it_declares_them(tmp_path, capsys):
    from ladon_ros.cli import main
    from ladon_ros.cli.bench_fleet import parse_edge_params
    assert parse_edge_params(['receive_pause_ms:=0', 'max_batch:=4']) == (('receive_pause_ms', 0.0), ('max_batch', 4))
    assert isinstance(parse_edge_params(['receive_pause_ms:=0'])[0][1], float)  # a double parameter
    for bad, why in (('no_such:=1', 'unknown parameter'), ('max_batch:=0', 'max_batch'), ('max_batch=4', 'NAME:=VALUE')):
        assert main(['bench-fleet', '--codecs', 'jpeg@75', '--link-mbps', '5', '--robots', '2', '--fps', '2',
                     '--edges', '1', '--no-equal-accuracy', '--plan-only', '--edge-param', bad,
                     '--out', str(tmp_path)]) == 2
        assert why in capsys.readouterr().err
