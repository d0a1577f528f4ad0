"""ReceivePacer: a saturated edge takes frames in bursts; an unsaturated one never waits."""
import pytest

from ladon_ros.fleet.pacing import ReceivePacer


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, s):
        self.slept.append(s)
        self.now += s


def _pacer(pause_s=0.02, burst_s=0.005):
    t = FakeTime()
    return ReceivePacer(pause_s, burst_s=burst_s, clock=t.clock, sleep=t.sleep), t


def test_an_edge_that_is_not_saturated_never_pauses():
    p, t = _pacer()
    for _ in range(1000):
        t.now += 0.001
        assert p.after_receive(False) == 0.0
    assert t.slept == [] and p.pauses == 0


def test_saturated_it_pauses_after_each_burst_and_counts_the_pauses():
    p, t = _pacer()
    paused = []
    for _ in range(40):  # a frame every 1 ms of receive time
        t.now += 0.001
        paused.append(p.after_receive(True))
    # burst of 5 ms from the first saturated frame, then 20 ms pause, a new 5 ms burst, ...
    assert paused[:4] == [0.0] * 4 and paused[5] == pytest.approx(0.02)
    assert t.slept == [0.02] * p.pauses and p.pauses >= 5
    assert p.paused_s == pytest.approx(0.02 * p.pauses)
    # every pause is followed by at least one frame taken before the next pause
    firsts = [i for i, x in enumerate(paused) if x]
    assert all(b - a >= 2 for a, b in zip(firsts, firsts[1:]))


def test_a_burst_of_frames_from_one_wake_is_taken_without_a_pause():
    p, t = _pacer()
    t.now += 1.0
    assert [p.after_receive(True) for _ in range(30)] == [0.0] * 30  # no time passes within one wake


def test_leaving_saturation_ends_the_burst_and_zero_disables():
    p, t = _pacer()
    p.after_receive(True)
    t.now += 0.1
    assert p.after_receive(False) == 0.0
    assert p.after_receive(True) == 0.0  # a fresh burst, not a pause for the old one
    off, t2 = _pacer(pause_s=0.0)
    for _ in range(50):
        t2.now += 0.01
        assert off.after_receive(True) == 0.0
    with pytest.raises(ValueError):
        ReceivePacer(-1.0)


def test_a_sequence_gap_across_a_receive_pause_is_not_counted_as_link_loss():
    """Frames replaced in the DDS reader while the edge paused must not look like a lossy link
    to the robot's rate adapter (LinkFeedback.frames_lost)."""
    from ladon_ros.ros.stats import LinkStats
    link = LinkStats()
    link.on_arrival(1, 100, 5.0, 1_000)
    link.on_arrival(4, 100, 5.0, 2_000)  # 2 and 3 missing, no pause: the link lost them
    link.on_arrival(7, 100, 5.0, 3_000, paused_since_last=True)  # 5 and 6 replaced in the reader
    assert (link.received, link.lost, link.replaced_in_reader) == (3, 2, 2)


def test_a_pause_ends_when_the_worker_takes_a_batch_so_the_worker_never_waits_for_it():
    """The edge node pauses with FairFrameQueue.wait_below(max_batch): with max_batch 1 a
    20 ms pause would otherwise outlast a 10 ms batch and idle the worker."""
    import threading
    import time
    from ladon_ros.fleet.queue import FairFrameQueue
    q = FairFrameQueue()
    q.put('r1', 'f1')
    pacer = ReceivePacer(5.0, burst_s=0.0, sleep=lambda s: q.wait_below(1, s))
    taker = threading.Timer(0.05, lambda: q.take(1, timeout=1.0))
    t0 = time.monotonic()
    taker.start()
    paused = pacer.after_receive(True)  # burst_s 0: pauses at once, until the take
    taker.join()
    # it waited for the take (not returned at once: a frame waited), and ended with it, not after 5 s
    assert q.waiting() == 0 and time.monotonic() - t0 < 2.0
    assert 0.0 < paused < 2.0 and pacer.paused_s == pytest.approx(paused)
    assert not q.wait_below(0, 0.01)  # never below 0: times out and says so
    q.put('r1', 'f2')
    assert not q.wait_below(1, 0.02)  # a full batch waits and nobody takes it
    q.close()
    assert not q.wait_below(1, 5.0)   # close wakes it at once (still full)
