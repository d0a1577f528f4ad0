"""The encoder-setting notation and the rate adapter's decision core, on a simulated clock (no ROS)."""
import math

import pytest

from ladon_ros.rate.adapter import STARVE_S, Feedback, RateAdapter
from ladon_ros.rate.policy import PolicyConfig, RatePoint
from ladon_ros.rate.setting import EncoderSetting


@pytest.mark.parametrize('text', ['raw', 'jpeg', 'jpeg@50', 'png@0', 'webp@100', 'ladon', 'ladon@0.25', 'ladon@4',
                                  'ladon@1e-05', 'ladon@0.123456789', 'ladon:/w/x.safetensors'])
def test_settings_round_trip(text):
    s = EncoderSetting.parse(text)
    assert str(s) == text and EncoderSetting.parse(str(s)) == s


@pytest.mark.parametrize('text', ['h264', 'jpeg@0', 'jpeg@x', 'jpeg@', 'png@10', 'raw@3', 'ladon@0', 'ladon@-1',
                                  'ladon@nan', 'ladon:', 'jpeg:/x', 'codec=jpeg,quality=50', ''])
def test_bad_settings_are_refused(text):
    with pytest.raises(ValueError):
        EncoderSetting.parse(text)


def test_encoder_params_and_frame_identity():
    assert EncoderSetting.parse('jpeg').encoder_params() == {'codec': 'jpeg', 'checkpoint': '', 'rate_point': 0.0,
                                                             'quality': -1}
    assert EncoderSetting.parse('jpeg').frame_identity() == ('jpeg', 90.0)  # the codec's default quality
    assert EncoderSetting.parse('ladon@4').encoder_params() == {'codec': 'ladon', 'checkpoint': '', 'rate_point': 4.0,
                                                                'quality': -1}
    assert EncoderSetting.parse('ladon@4').frame_identity() == ('ladon', 4.0)
    assert EncoderSetting.parse('raw').frame_identity() == ('raw', 0.0)


def test_shipped_rate_point_resolves_like_the_encoder():
    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.weights import default_checkpoint, ladon_rate_points
    assert EncoderSetting.parse('ladon').checkpoint_path() == default_checkpoint('ladon')
    for path, meta in ladon_rate_points():
        assert EncoderSetting('ladon', rate_point=meta.rate_point).checkpoint_path() == path
    with pytest.raises(ValueError, match='no shipped'):
        EncoderSetting.parse('ladon@777').checkpoint_path()
    beta = read_metadata(default_checkpoint('ladon')).rate_point
    assert EncoderSetting.parse('ladon').frame_identity() == ('ladon', beta)


SETTINGS = [EncoderSetting.parse(t) for t in ('jpeg@90', 'jpeg@50', 'jpeg@20')]
# Measured costs (what ``calibrate`` would return): 20 kB, 8 kB and 3 kB per frame.
POINTS = [RatePoint('jpeg@90', 20_000, 5.0, 20.0), RatePoint('jpeg@50', 8_000, 5.0, 20.0),
          RatePoint('jpeg@20', 3_000, 5.0, 20.0)]


def _adapter(start=0, fps=10.0):
    a = RateAdapter(SETTINGS, PolicyConfig(budget_ms=250.0, camera_fps=fps), edge_ms=20.0, start_point=start)
    a.start(POINTS, now=0.0)
    return a


def test_refuses_bad_point_lists():
    cfg = PolicyConfig(budget_ms=250.0, camera_fps=10.0)
    for settings, start in (([], 0), (SETTINGS, 3), (SETTINGS + SETTINGS[:1], 0)):
        with pytest.raises(ValueError):
            RateAdapter(settings, cfg, start_point=start)


def test_a_saturated_link_switches_down_and_skips_while_switching_waits():
    a = _adapter()
    assert a.current == 'jpeg@90' and a.calibrated
    t, received, lost = 0.0, 0, 0
    step = None
    # 10 Hz of 20 kB frames into a link that carries 40 kB/s: 2 frames/s arrive, the rest is lost.
    while t < 8.0 and (step is None or step.switch_to is None):
        for _ in range(10):
            t += 0.1
            assert a.on_image(t)  # skip 1: every image passes
        received, lost = received + 2, lost + 8
        step = a.on_feedback(t, Feedback(received, lost, 400.0, 40_000.0, 2.0))
    assert step is not None and step.switch_to is not None and str(step.switch_to) != 'jpeg@90'
    assert step.point.bytes_per_frame < 20_000 and step.record(123.0)['point'] == str(step.switch_to)
    a.switch_started()
    assert a.on_feedback(t + 1, Feedback(received + 2, lost + 8, 400.0, 40_000.0, 2.0)) is None
    assert a.watchdog(t + 100) is None  # no blind decision in the middle of a reload
    a.switch_done(step.switch_to, t + 1)
    assert a.current == str(step.switch_to) and not a.switching
    # The gate follows the decision's skip: 1 of every ``skip`` images passes.
    passed = sum(a.on_image(t + 2 + i * 0.1) for i in range(30))
    assert passed == math.ceil(30 / a.skip) or passed == 30 // a.skip


def test_no_arrivals_while_sending_reads_as_total_loss():
    a = _adapter()
    a.on_feedback(0.5, Feedback(5, 0, 50.0, 100_000.0, 10.0))
    t = 0.5
    for _ in range(20):  # 2 s of frames sent, none arrives, no sequence gap can show
        t += 0.1
        a.on_image(t)
    assert t - 0.5 > STARVE_S
    step = a.on_feedback(t, Feedback(5, 0, 50.0, 100_000.0, 10.0))
    assert step.observation.loss_ratio == 1.0


def test_feedback_that_stops_makes_the_adapter_blind():
    a = _adapter()
    assert a.watchdog(100.0) is None  # no feedback ever: nothing to be blind about
    a.on_feedback(1.0, Feedback(10, 0, 40.0, 200_000.0, 10.0))
    assert a.watchdog(1.5) is None
    step = a.watchdog(1.0 + a.config.stale_s + 0.1)
    assert step is not None and step.observation is None and step.point.key == 'jpeg@20'  # cheapest
    assert str(step.switch_to) == 'jpeg@20'


def test_stats_of_the_current_point_give_the_delay_and_edge_time():
    a = _adapter(start=1)
    assert a.current == 'jpeg@50'
    for i in range(5):
        a.on_stats(1.0 + i * 0.1, 'jpeg', 50.0, transit_ms=30.0, total_ms=70.0)
        a.on_stats(1.0 + i * 0.1, 'jpeg', 90.0, transit_ms=900.0, total_ms=950.0)  # previous point: no delay sample
    step = a.on_feedback(1.6, Feedback(10, 0, 500.0, 80_000.0, 10.0))
    assert step.observation.one_way_delay_ms == 30.0 and step.observation.measured_ms == 70.0
    assert {p.edge_ms for p in a.policy.points} == {45.0}  # median of 40 and 50 ms after arrival
