"""The rate policy: unit behaviour and a closed loop over a simulated shaped link."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ladon_ros.rate.policy import Observation, PolicyConfig, RatePoint, RatePolicy

# Bytes per frame like the Ladon rate points (richest first) + compute times [ms].
POINTS = [RatePoint(f'b{i}', b, encode_ms=10.0, edge_ms=40.0)
          for i, b in enumerate([60_000, 30_000, 12_000, 6_000, 3_000])]


def _policy(budget_ms=150.0, fps=10.0, **kw):
    return RatePolicy(POINTS, PolicyConfig(budget_ms=budget_ms, camera_fps=fps, up_hold_s=2.0, **kw))


def _obs(t, delay_ms, bytes_per_s=100_000.0, rate_hz=10.0, loss=0.0, sent_hz=10.0):
    return Observation(t, delay_ms, bytes_per_s, rate_hz, loss, sent_hz)


def test_fast_link_keeps_the_richest_point_and_sends_every_frame():
    pol = _policy()
    # 60 kB in 24 ms of serialisation -> ~20 Mbit/s; 10 fps * 60 kB = 4.8 Mbit/s fits.
    for t in range(5):
        d = pol.update(_obs(float(t), 3 + 10 + 24, bytes_per_s=600_000))
    assert (d.index, d.skip) == (0, 1)
    assert d.capacity_bps == pytest.approx(8 * 60_000 / 24e-3, rel=1e-6)


def test_slow_link_jumps_down_several_points_at_once():
    pol = _policy()
    # 60 kB took 240 ms -> 2 Mbit/s: 60 kB or 30 kB cannot fit 0.85 * 150 ms.
    d = pol.update(_obs(0.0, 3 + 10 + 240, bytes_per_s=200_000))
    assert d.reason == 'down' and d.index >= 2
    assert pol.predict_ms(d.index, d.capacity_bps) <= 0.85 * 150


def test_saturated_link_uses_goodput_and_skips_frames():
    pol = _policy()
    # Frames lost and arriving at half the send rate: the link carries 100 kB/s = 0.8 Mbit/s.
    d = pol.update(_obs(0.0, 60.0, bytes_per_s=100_000, rate_hz=4.0, loss=0.5, sent_hz=10.0))
    assert d.capacity_bps == pytest.approx(800_000)
    assert d.reason == 'down'
    sent_bps = 10.0 / d.skip * 8 * POINTS[d.index].bytes_per_frame
    assert sent_bps <= 0.8 * d.capacity_bps


def test_steps_up_one_point_only_after_the_hold():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=2.0), start_index=3)
    comfy = 3 + 10 + 5  # well below low_water * budget
    assert pol.update(_obs(0.0, comfy)).index == 3
    assert pol.update(_obs(1.0, comfy)).index == 3
    d = pol.update(_obs(2.0, comfy))
    assert (d.index, d.reason) == (2, 'up')
    assert pol.update(_obs(2.5, comfy)).index == 2  # the hold starts again


def test_failed_probe_doubles_the_hold():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=2.0), start_index=3)
    for t in (0.0, 2.0):
        pol.update(_obs(t, 18.0))
    assert pol.index == 2
    pol.update(_obs(3.0, 100.0))  # the richer point is over budget: back down
    assert pol.index == 3
    for t in (4.0, 6.0, 7.9):
        assert pol.update(_obs(t, 18.0)).index == 3  # hold is now 4 s, not 2 s
    assert pol.update(_obs(8.0, 18.0)).index == 2


def test_no_feedback_means_cheapest_point_and_most_skipping():
    pol = _policy()
    d = pol.update(_obs(0.0, 0.0, bytes_per_s=0.0, rate_hz=0.0))
    assert (d.index, d.skip, d.reason) == (len(POINTS) - 1, 10, 'blind')


@pytest.mark.parametrize('bad', [dict(budget_ms=0), dict(camera_fps=-1), dict(headroom=1.5),
                                 dict(low_water=0.9, headroom=0.8), dict(max_utilisation=0),
                                 dict(max_skip=0), dict(loss_congested=1.0)])
def test_invalid_config_is_refused(bad):
    kw = dict(budget_ms=100.0, camera_fps=10.0)
    kw.update(bad)
    with pytest.raises(ValueError):
        PolicyConfig(**kw)


def test_points_are_validated_and_sorted():
    with pytest.raises(ValueError):
        RatePoint('x', 0)
    with pytest.raises(ValueError):
        RatePolicy([], PolicyConfig(budget_ms=1, camera_fps=1))
    pol = RatePolicy(list(reversed(POINTS)), PolicyConfig(budget_ms=100, camera_fps=10))
    assert [p.key for p in pol.points] == [p.key for p in POINTS]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 5e6), st.floats(0, 60), st.floats(0, 1)),
                min_size=1, max_size=30))
def test_any_feedback_gives_a_valid_decision(seq):
    pol = _policy()
    for t, (delay, bps, hz, loss) in enumerate(seq):
        d = pol.update(_obs(float(t), delay, bytes_per_s=bps, rate_hz=hz, loss=min(loss, 0.999)))
        assert 0 <= d.index < len(POINTS)
        assert 1 <= d.skip <= 10


def _simulate(schedule_mbps, adaptive, seconds_each=20, budget_ms=150.0, fps=10.0):
    """Fluid model of a tbf link with a 400 ms buffer, fed 1 s feedback; returns per-second rows."""
    pol = _policy(budget_ms=budget_ms, fps=fps)
    queue_b, rows, t = 0.0, [], 0.0
    for mbps in schedule_mbps:
        cap_Bps = mbps * 1e6 / 8
        for _ in range(seconds_each):
            point = POINTS[pol.index] if adaptive else POINTS[0]
            skip = pol.skip if adaptive else 1
            offered = fps / skip * point.bytes_per_frame
            queue_b += offered
            served = min(queue_b, cap_Bps)
            queue_b -= served
            limit = 0.4 * cap_Bps
            lost_b = max(0.0, queue_b - limit)
            queue_b -= lost_b
            loss = lost_b / offered
            delay = 3 + point.encode_ms + (point.bytes_per_frame + queue_b) / cap_Bps * 1e3
            latency = delay + point.edge_ms
            rows.append((t, mbps, pol.index, latency, loss))
            if adaptive:
                pol.update(_obs(t, delay, bytes_per_s=served, rate_hz=fps / skip * (1 - loss), loss=loss,
                                sent_hz=fps / skip))
            t += 1.0
    return rows


def test_closed_loop_follows_a_changing_link_and_stays_in_budget():
    rows = _simulate([20, 2, 10], adaptive=True)
    settled = {m: [r for r in rows if r[1] == m][8:] for m in (20, 2, 10)}
    for mbps, rs in settled.items():
        assert all(r[3] <= 150.0 for r in rs), (mbps, [round(r[3]) for r in rs])
        assert all(r[4] == 0.0 for r in rs)
    idx = {m: min(r[2] for r in rs) for m, rs in settled.items()}
    assert idx[2] > idx[10] >= idx[20]  # cheaper when slower, richer again when faster
    fixed = _simulate([20, 2, 10], adaptive=False)
    assert max(r[3] for r in fixed if r[1] == 2) > 150.0 and max(r[4] for r in fixed) > 0.5
    assert not math.isnan(rows[-1][3])


def test_successful_steps_up_shorten_the_hold_down_to_the_floor():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=2.0, min_hold_s=1.0),
                     start_index=4)
    ups = [t / 2 for t in range(0, 20) if pol.update(_obs(t / 2, 18.0)).reason == 'up']
    assert ups[:4] == [2.0, 3.5, 5.0, 6.5]  # hold 2 s, then 1 s (the floor), counted from the next feedback
    assert pol.index == 0


def test_measured_end_to_end_latency_overrides_the_delay_model():
    pol = _policy()
    # Delay says fine, but frames wait at a busy edge: the measured latency is over budget.
    d = pol.update(Observation(0.0, 37.0, 600_000, 10.0, 0.0, 10.0, measured_ms=400.0))
    assert d.reason == 'down' and d.index == 1


def test_climbs_when_latency_is_edge_bound_and_the_next_point_adds_little():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=1.0), start_index=4)
    # 100 ms measured (above low_water * budget = 90) though 3 kB frames cross in ~2.4 ms (10 Mbit/s):
    # the next point adds 3 kB = ~2.4 ms, still inside the budget.
    ds = [pol.update(Observation(t, 3 + 10 + 2.4, 30_000, 10.0, 0.0, 10.0, measured_ms=100.0)) for t in (0.0, 1.0)]
    assert ds[-1].reason == 'up' and pol.index == 3


# --- each rule of update/_skip_for on its own (each test fails when its rule is removed) --------

def test_loss_alone_counts_as_over_budget():
    pol = _policy()
    # Delay and goodput say the richest point fits easily; only the loss says the link is full.
    d = pol.update(_obs(0.0, 3 + 10 + 24, bytes_per_s=10_000_000, loss=0.05))
    assert (d.index, d.reason) == (1, 'down')
    assert _policy().update(_obs(0.0, 3 + 10 + 24, bytes_per_s=10_000_000, loss=0.049)).reason == 'hold'


def test_arrivals_below_80_percent_of_sent_mean_saturated():
    # No loss, small delay (the delay model says ~20 Mbit/s), but only 7.9 of 10 frames/s arrive:
    # the link is saturated and its rate is the goodput, 100 kB/s = 0.8 Mbit/s.
    d = _policy().update(_obs(0.0, 3 + 10 + 24, bytes_per_s=100_000, rate_hz=7.9, sent_hz=10.0))
    assert d.capacity_bps == pytest.approx(800_000)
    d = _policy().update(_obs(0.0, 3 + 10 + 24, bytes_per_s=100_000, rate_hz=8.0, sent_hz=10.0))
    assert d.capacity_bps == pytest.approx(8 * 60_000 / 24e-3)


def test_skip_factor_rounds_up_to_stay_under_max_utilisation():
    pol = RatePolicy([RatePoint('only', 10_000)], PolicyConfig(budget_ms=10_000.0, camera_fps=10.0))
    # 10 fps x 80 kbit = 800 kbit/s offered; at 0.8 x 400 kbit/s the ratio is 2.5: skip 3, not 2.
    assert pol._skip_for(0, 400_000) == 3
    assert pol._skip_for(0, 1_000_000) == 1      # ratio 1.0: every frame
    assert pol._skip_for(0, 1_000_001) == 1      # ratio just below 1: still 1, never 0
    assert pol._skip_for(0, 100_000) == 10       # ratio exactly max_skip
    assert pol._skip_for(0, 1_000) == 10         # far above: capped
    assert pol._skip_for(0, 0.0) == 10 and pol._skip_for(0, math.nan) == 10


def _probe_and_fail(pol, t):
    """Comfortable until the policy steps up, then over budget at once; returns the time after."""
    while pol.update(_obs(t, 18.0)).reason != 'up':
        t += 0.5
    t += 0.5
    assert pol.update(_obs(t, 100.0)).reason == 'down'
    return t + 0.5


def test_failed_probes_double_the_hold_only_up_to_max_hold():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=2.0, max_hold_s=4.0),
                     start_index=3)
    t = _probe_and_fail(pol, 0.0)   # hold 2 -> 4
    t = _probe_and_fail(pol, t)     # would be 8 without the cap; stays 4
    assert pol._hold_s == 4.0
    start = t
    while pol.update(_obs(t, 18.0)).reason != 'up':
        t += 0.5
    assert t - start == pytest.approx(4.0)


def test_a_long_stable_link_forgets_failed_probes():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=2.0, max_hold_s=4.0),
                     start_index=3)
    t = _probe_and_fail(pol, 0.0)
    assert pol._hold_s == 4.0
    # Holding (not comfortable enough to climb, not over budget) for more than 4 x max_hold_s.
    hold_ms = 0.7 * 150.0
    last_up = pol._last_up[0]
    while t - last_up <= 4 * 4.0:
        assert pol.update(_obs(t, hold_ms - POINTS[3].edge_ms)).reason == 'hold'
        assert pol._hold_s == 4.0
        t += 1.0
    pol.update(_obs(t, hold_ms - POINTS[3].edge_ms))
    assert pol._hold_s == 2.0


def test_bytes_without_arrivals_is_not_blind():
    pol = _policy()
    # No frame completed in the window but bytes arrived and everything sent was lost: the link
    # is saturated at its goodput, not down.
    d = pol.update(_obs(0.0, 0.0, bytes_per_s=50_000, rate_hz=0.0, loss=1.0))
    assert d.reason != 'blind' and d.capacity_bps == pytest.approx(400_000)
    d = _policy().update(_obs(0.0, 50.0, bytes_per_s=0.0, rate_hz=5.0))
    assert d.reason != 'blind'


# --- configuration bounds, inclusive or not, and which field the message names -----------------

@pytest.mark.parametrize('change, field', [
    (dict(budget_ms=0.0), 'budget_ms'), (dict(camera_fps=0.0), 'camera_fps'),
    (dict(base_delay_ms=-0.1), 'base_delay_ms'), (dict(headroom=0.0), 'headroom'),
    (dict(headroom=1.01), 'headroom'), (dict(low_water=0.0), 'low_water'),
    (dict(max_utilisation=0.0), 'max_utilisation'), (dict(max_utilisation=1.5), 'max_utilisation'),
    (dict(min_hold_s=-0.5), 'need 0 <= min_hold_s'), (dict(up_hold_s=40.0), 'need 0 <= min_hold_s'),
    (dict(loss_congested=0.0), 'loss_congested'), (dict(max_skip=0), 'max_skip'), (dict(stale_s=0.0), 'stale_s'),
])
def test_config_refuses_out_of_range_and_names_the_field(change, field):
    with pytest.raises(ValueError, match=f'^PolicyConfig: {field}'):
        PolicyConfig(**{'budget_ms': 100.0, 'camera_fps': 10.0, **change})


@pytest.mark.parametrize('change', [
    dict(budget_ms=0.5), dict(camera_fps=0.5), dict(base_delay_ms=0.0), dict(base_delay_ms=0.5), dict(headroom=1.0),
    dict(low_water=0.85), dict(max_utilisation=1.0), dict(min_hold_s=0.0), dict(min_hold_s=0.5),
    dict(up_hold_s=30.0), dict(loss_congested=0.999), dict(max_skip=1), dict(stale_s=0.5),
])
def test_config_accepts_its_bounds(change):
    cfg = PolicyConfig(**{'budget_ms': 100.0, 'camera_fps': 10.0, **change})
    assert all(getattr(cfg, k) == v for k, v in change.items())


def test_rate_points_and_policy_arguments_are_checked_with_clear_messages():
    assert RatePoint('tiny', 0.5).bytes_per_frame == 0.5
    with pytest.raises(ValueError, match='^x: bytes_per_frame must be > 0, got 0$'):
        RatePoint('x', 0)
    for kw in (dict(encode_ms=-1.0), dict(edge_ms=-1.0)):
        with pytest.raises(ValueError, match='^x: compute times must be >= 0$'):
            RatePoint('x', 10, **kw)
    with pytest.raises(ValueError, match='^RatePolicy needs at least one rate point$'):
        RatePolicy([], PolicyConfig(budget_ms=1, camera_fps=1))
    for bad in (-1, len(POINTS)):
        with pytest.raises(ValueError, match=f'^start_index {bad} out of range 0..4$'):
            RatePolicy(POINTS, PolicyConfig(budget_ms=1, camera_fps=1), start_index=bad)
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=1, camera_fps=1), start_index=len(POINTS) - 1)
    assert (pol.index, pol.skip, pol._last_up) == (4, 1, None) and math.isnan(pol.capacity_bps)


# --- the estimates, exactly ----------------------------------------------------------------------

def test_predicted_latency_and_extra_transmission_time():
    pol = _policy()
    assert pol.predict_ms(0, 1e6) == pytest.approx(10 + 3 + 8 * 60_000 / 1e6 * 1e3 + 40)
    assert pol.predict_ms(0, 0.0) == math.inf and math.isfinite(pol.predict_ms(0, 0.5))
    pol.index = 3
    assert pol._extra_tx_ms(1e6) == pytest.approx(8 * (12_000 - 6_000) / 1e6 * 1e3)
    assert pol._extra_tx_ms(0.0) == math.inf and math.isfinite(pol._extra_tx_ms(0.5))


def test_delay_estimate_has_a_floor_of_half_a_millisecond():
    # A delay at or below base + encode (clock noise) is read as 0.5 ms of serialisation.
    d = _policy().update(_obs(0.0, 3 + 10, bytes_per_s=10_000_000))
    assert d.capacity_bps == pytest.approx(8 * 60_000 / 0.5e-3)


@pytest.mark.parametrize('obs, capacity', [
    # loss exactly at loss_congested: saturated, goodput rules
    (dict(delay_ms=37.0, bytes_per_s=100_000, loss=0.05), 800_000),
    # saturated but the delay says slower than the goodput: the delay estimate stays
    (dict(delay_ms=3 + 10 + 2400, bytes_per_s=10_000_000, loss=0.5), 8 * 60_000 / 2.4),
    # saturated with no bytes: no goodput, the delay estimate stays
    (dict(delay_ms=3 + 10 + 240, bytes_per_s=0.0, loss=0.5, rate_hz=5.0), 2_000_000),
    # half a byte per second is still a goodput
    (dict(delay_ms=37.0, bytes_per_s=0.5, loss=0.5), 4.0),
    # sent rate below 1 Hz still counts for the arrival rule
    (dict(delay_ms=37.0, bytes_per_s=100_000, rate_hz=0.5, sent_hz=0.9), 800_000),
])
def test_capacity_estimate_cases(obs, capacity):
    d = _policy().update(_obs(0.0, **obs))
    assert d.reason != 'blind' and d.capacity_bps == pytest.approx(capacity)


def test_any_arrival_rate_gives_a_delay_estimate_and_none_is_blind():
    assert _policy().update(_obs(0.0, 37.0, bytes_per_s=0.0, rate_hz=0.5)).reason != 'blind'
    assert _policy().update(_obs(0.0, 37.0, bytes_per_s=50_000, rate_hz=0.0, sent_hz=0.0)).reason == 'blind'
    d = _policy().update(_obs(0.0, 0.0, bytes_per_s=0.5, rate_hz=0.0, loss=1.0))
    assert d.reason != 'blind' and d.capacity_bps == pytest.approx(4.0)


def test_blind_decision_and_recovery():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=2.0))
    d = pol.update(_obs(0.0, 0.0, bytes_per_s=0.0, rate_hz=0.0))
    assert math.isnan(d.capacity_bps) and math.isnan(d.predicted_ms) and pol._comfortable_since is None
    # Feedback again and comfortable: climbs after the hold as usual.
    reasons = [pol.update(_obs(t, 18.0)).reason for t in (1.0, 2.0, 3.0)]
    assert reasons == ['hold', 'hold', 'up']


def test_decision_reports_state_and_prediction():
    pol = _policy()
    d = pol.update(_obs(0.0, 3 + 10 + 24, bytes_per_s=600_000))
    assert pol.capacity_bps == d.capacity_bps and pol.skip == d.skip
    assert d.predicted_ms == pytest.approx(pol.predict_ms(d.index, d.capacity_bps))


def test_nothing_fits_means_the_cheapest_point():
    d = _policy().update(_obs(0.0, 3 + 10 + 60_000, bytes_per_s=1_000))
    assert (d.index, d.reason) == (len(POINTS) - 1, 'down')


def _saturated_at(cap_bps, t=0.0, measured_ms=10.0):
    """Feedback that pins the capacity estimate to exactly ``cap_bps`` (goodput, arrivals < 80 %)."""
    return Observation(t, 3 + 10 + 1.0, cap_bps / 8, 7.0, 0.0, 10.0, measured_ms=measured_ms)


def test_a_point_predicted_exactly_at_the_target_fits():
    cap = 8 * 500_000.0
    probe = RatePolicy(POINTS, PolicyConfig(budget_ms=1000.0, camera_fps=1.0))
    budget = probe.predict_ms(0, cap)   # headroom 1: the target is the budget itself
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=budget, camera_fps=1.0, headroom=1.0, low_water=0.5))
    d = pol.update(_saturated_at(cap))
    assert d.capacity_bps == cap and (d.index, d.reason) == (0, 'hold')


def test_measured_exactly_at_the_target_is_not_over():
    cap = 8 * 500_000.0
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=1000.0, camera_fps=1.0, headroom=1.0, low_water=0.5))
    assert pol.update(_saturated_at(cap, measured_ms=1000.0)).reason == 'hold'
    assert pol.update(_saturated_at(cap, t=1.0, measured_ms=1000.0001)).reason == 'down'


def test_a_comfortable_point_that_the_prediction_keeps_climbs_anyway():
    # Point 3 fits by prediction, point 2 not; measured latency is low: the policy probes point 2.
    cfg = PolicyConfig(budget_ms=150.0, camera_fps=1.0, up_hold_s=1.0)
    pol = RatePolicy(POINTS, cfg, start_index=3)
    cap = 8 * 6_000 / 0.06   # 6 kB in 60 ms: point 3 predicts 113 ms (fits 127.5), point 2 173 ms
    assert pol.predict_ms(3, cap) <= 0.85 * 150 < pol.predict_ms(2, cap)
    reasons = [pol.update(_saturated_at(cap, t=t, measured_ms=50.0)).reason for t in (0.0, 0.5, 1.0)]
    assert reasons == ['hold', 'hold', 'up']


def test_comfortable_exactly_at_low_water():
    cfg = PolicyConfig(budget_ms=150.0, camera_fps=1.0, up_hold_s=1.0)
    pol = RatePolicy(POINTS, cfg, start_index=4)
    cap = 8 * 3_000 / 0.03   # extra 3 kB of point 3 costs 30 ms: 90 + 30 > 0.9 x 127.5
    at = cfg.low_water * cfg.budget_ms
    reasons = [pol.update(_saturated_at(cap, t=t, measured_ms=at)).reason for t in (0.0, 1.0)]
    assert reasons == ['hold', 'up']
    pol = RatePolicy(POINTS, cfg, start_index=4)
    above = math.nextafter(at, math.inf)
    assert [pol.update(_saturated_at(cap, t=t, measured_ms=above)).reason for t in (0.0, 1.0)] == ['hold', 'hold']


def test_comfortable_when_the_next_point_adds_exactly_the_margin():
    cfg = PolicyConfig(budget_ms=150.0, camera_fps=1.0, up_hold_s=1.0)
    cap = 8 * 3_000 / 0.015   # the next point's extra 3 kB costs 15 ms
    extra = RatePolicy(POINTS, cfg, start_index=4)._extra_tx_ms(cap)
    limit = 0.9 * cfg.headroom * cfg.budget_ms
    at = limit - extra
    while at + extra > limit:            # the largest measurement still inside, in floats
        at = math.nextafter(at, -math.inf)
    while math.nextafter(at, math.inf) + extra <= limit:
        at = math.nextafter(at, math.inf)
    above = math.nextafter(at, math.inf)
    assert at > cfg.low_water * cfg.budget_ms      # only this rule can make it comfortable
    for m, want in ((at, ['hold', 'up']), (above, ['hold', 'hold'])):
        pol = RatePolicy(POINTS, cfg, start_index=4)
        assert [pol.update(_saturated_at(cap, t=t, measured_ms=m)).reason for t in (0.0, 1.0)] == want, m


def test_hold_halves_after_each_successful_step():
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=4.0, min_hold_s=1.0),
                     start_index=4)
    ups = [t / 4 for t in range(0, 80) if pol.update(_obs(t / 4, 18.0)).reason == 'up']
    assert ups[:3] == [4.0, 6.25, 7.5]   # hold 4 s, then 2 s, then 1 s (each counted from the next feedback)


@pytest.mark.parametrize('after_hold_x, doubled', [(1.0, True), (1.999, True), (2.0, False), (2.5, False)])
def test_a_probe_fails_only_if_it_falls_back_within_two_holds(after_hold_x, doubled):
    t0 = 1000.0   # far from 0: time and index must not be mixed up
    pol = RatePolicy(POINTS, PolicyConfig(budget_ms=150.0, camera_fps=10.0, up_hold_s=2.0), start_index=3)
    t = t0
    while pol.update(_obs(t, 18.0)).reason != 'up':
        t += 0.5
    assert pol.update(_obs(t + after_hold_x * 2.0, 100.0)).reason == 'down'
    assert pol._hold_s == (4.0 if doubled else 1.0)


def test_any_positive_capacity_is_used_for_the_skip_factor():
    # A tiny point at a tiny frame rate: even 0.5 bit/s carries every frame.
    pol = RatePolicy([RatePoint('tiny', 0.01)], PolicyConfig(budget_ms=1.0, camera_fps=0.001))
    assert pol._skip_for(0, 0.5) == 1
