"""ladon_ros.fleet.queue: keep-latest per robot and fair batches across robots (no rclpy)."""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from ladon_ros.fleet.queue import FairFrameQueue


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def tick(self, dt: float = 0.01) -> None:
        self.t += dt


def _serve_rounds(q: FairFrameQueue, clock: FakeClock, rounds: int, max_batch: int, feed, cost) -> list:
    """``rounds`` times: ``feed(q)`` puts frames, one batch is taken and charged ``cost(robot)``.

    Returns the served robots in order.
    """
    served = []
    for _ in range(rounds):
        feed(q)
        clock.tick()
        for w in q.take(max_batch, timeout=0):
            served.append(w.robot)
            q.charge(w.robot, cost(w.robot))
    return served


def test_a_flooding_robot_gets_no_more_than_its_share():
    clock = FakeClock()
    q = FairFrameQueue(clock)

    def feed(q):
        for i in range(10):  # robot 'flood' publishes 10x faster than the others
            q.put('flood', i)
            clock.tick(0.001)
        q.put('a', 0)
        q.put('b', 0)

    served = Counter(_serve_rounds(q, clock, rounds=300, max_batch=1, feed=feed, cost=lambda r: 0.05))
    assert set(served) == {'flood', 'a', 'b'}
    assert served['flood'] == pytest.approx(100, abs=2), served
    assert abs(served['a'] - served['b']) <= 2, served
    acc = q.account('flood')
    assert acc.received == 3000 and acc.served == served['flood']
    assert acc.received - acc.served - acc.dropped_stale == 1  # its newest frame still waits
    assert acc.dropped_stale > 2500


def test_a_robot_that_costs_more_edge_time_is_served_less_often():
    clock = FakeClock()
    q = FairFrameQueue(clock)

    def feed(q):
        q.put('heavy', 0)
        q.put('light', 0)

    served = Counter(_serve_rounds(q, clock, rounds=300, max_batch=1, feed=feed,
                                   cost=lambda r: 0.2 if r == 'heavy' else 0.1))
    assert served['light'] == pytest.approx(2 * served['heavy'], abs=3), served
    heavy, light = q.account('heavy'), q.account('light')
    assert heavy.edge_time_s == pytest.approx(light.edge_time_s, rel=0.05)  # equal shares of edge time


@pytest.mark.parametrize('cost', [0.0, 0.1])
def test_equal_robots_are_served_round_robin(cost):
    clock = FakeClock()
    q = FairFrameQueue(clock)

    def feed(q):
        for r in ('r3', 'r1', 'r2'):  # everybody is always waiting; r3 always puts first
            q.put(r, 0)
            clock.tick(0.001)

    order = _serve_rounds(q, clock, rounds=30, max_batch=1, feed=feed, cost=lambda r: cost)
    assert order[:3] == ['r3', 'r1', 'r2']
    assert order == order[:3] * 10  # least recently served first: never twice before the others


def test_a_returning_robot_banks_no_credit_from_its_pause():
    clock = FakeClock()
    q = FairFrameQueue(clock)

    def busy(q):
        q.put('a', 0)
        q.put('b', 0)

    _serve_rounds(q, clock, rounds=100, max_batch=1, feed=busy, cost=lambda r: 0.1)
    served = Counter(_serve_rounds(q, clock, rounds=30, max_batch=1,
                                   feed=lambda q: (busy(q), q.put('late', 0)), cost=lambda r: 0.1))
    assert 8 <= served['late'] <= 12, served  # its third, not all 30 while it "catches up"


def test_keep_latest_counts_stale_per_robot_and_keeps_the_newest_frame():
    clock = FakeClock()
    q = FairFrameQueue(clock)
    assert q.put('a', 'a1') is False
    assert q.put('a', 'a2') is True
    assert q.put('a', 'a3') is True
    assert q.put('b', 'b1') is False
    batch = q.take(8, timeout=0)
    assert {w.robot: w.frame for w in batch} == {'a': 'a3', 'b': 'b1'}
    assert q.account('a').dropped_stale == 2 and q.account('b').dropped_stale == 0
    assert q.account('a').received == 3 and q.account('a').served == 1
    assert q.put('a', 'a4') is False  # the previous one was served: nothing replaced
    assert q.account('nobody').received == 0


def test_max_batch_and_one_frame_per_robot():
    clock = FakeClock()
    q = FairFrameQueue(clock)
    for i in range(10):
        q.put(f'r{i}', i)
        q.put(f'r{i}', i + 100)
        clock.tick()
    first = q.take(4, timeout=0)
    assert len(first) == 4 and len({w.robot for w in first}) == 4
    assert [w.robot for w in first] == ['r0', 'r1', 'r2', 'r3']  # earliest arrival first among equals
    assert all(w.frame >= 100 for w in first)
    assert q.waiting() == 6
    rest = q.take(64, timeout=0)
    assert len(rest) == 6 and q.waiting() == 0
    assert q.take(4, timeout=0) == []
    with pytest.raises(ValueError):
        q.take(0)


def test_take_blocks_until_a_put_and_close_wakes_it():
    q = FairFrameQueue()
    got = []
    worker = threading.Thread(target=lambda: got.append(q.take(4, timeout=5.0)))
    worker.start()
    time.sleep(0.1)
    assert worker.is_alive() and not got  # nothing waiting: it blocks
    t0 = time.monotonic()
    q.put('a', 1)
    worker.join(2.0)
    assert not worker.is_alive() and time.monotonic() - t0 < 1.0
    assert [w.frame for w in got[0]] == [1]

    got.clear()
    worker = threading.Thread(target=lambda: got.append(q.take(4, timeout=5.0)))
    worker.start()
    time.sleep(0.1)
    q.close()
    worker.join(2.0)
    assert not worker.is_alive() and got == [None]
    q.put('a', 2)
    assert q.take(4, timeout=0) is None  # closed until open()
    q.open()
    assert [w.frame for w in q.take(4, timeout=0)] == [2]
    q.put('b', 3)
    q.clear()
    assert q.waiting() == 0
    q.put('b', 4)
    q.forget('b')
    assert q.waiting() == 0 and q.account('b').received == 0


def test_concurrent_puts_and_takes_lose_and_duplicate_nothing():
    q = FairFrameQueue()
    robots, per_robot = [f'r{i}' for i in range(6)], 2000
    taken: list = []
    done = threading.Event()

    def producer(robot):
        for i in range(per_robot):
            q.put(robot, (robot, i))

    def consumer():
        while not (done.is_set() and q.waiting() == 0):
            batch = q.take(3, timeout=0.05)
            for w in batch or []:
                taken.append(w.frame)
                q.charge(w.robot, 0.001)

    c = threading.Thread(target=consumer)
    c.start()
    producers = [threading.Thread(target=producer, args=(r,)) for r in robots]
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    done.set()
    c.join(10.0)
    assert not c.is_alive()
    assert len(taken) == len(set(taken))  # no frame handed out twice
    for r in robots:
        acc = q.account(r)
        mine = [i for robot, i in taken if robot == r]
        assert acc.received == per_robot
        assert acc.served == len(mine) and acc.served + acc.dropped_stale == per_robot
        assert mine == sorted(mine)  # a robot's frames come out in order (older ones only dropped)
        assert (r, per_robot - 1) in taken  # the newest frame of each robot is always served


def test_an_expensive_robot_is_held_back_even_when_every_robot_fits_in_the_batch():
    # Three robots, batches of 8: ordering alone never throttles anyone. 'huge' frames cost
    # 40x an honest one (a genuine latent claiming a 4096x4096 image); the honest robots
    # must still get an equal share of edge time, so 'huge' is served ~1/40 as often.
    clock = FakeClock()
    q = FairFrameQueue(clock, max_lag_s=0.25, active_s=1.0)

    def feed(q):
        for r in ('a', 'b', 'huge'):
            q.put(r, 0)

    served = Counter(_serve_rounds(q, clock, rounds=400, max_batch=8, feed=feed,
                                   cost=lambda r: 0.4 if r == 'huge' else 0.01))
    assert served['a'] == served['b'] >= 390, served
    assert served['huge'] <= 400 * 0.01 / 0.4 + 2, served
    times = [q.account(r).edge_time_s for r in ('a', 'b', 'huge')]
    assert max(times) - min(times) <= 0.25 + 0.4, times  # equal shares within the lag and one frame


def test_a_robot_alone_or_among_idle_ones_is_never_held_back():
    clock = FakeClock()
    q = FairFrameQueue(clock, max_lag_s=0.1, active_s=1.0)
    q.put('idle', 0)
    q.take(1, timeout=0)
    q.charge('idle', 0.01)
    clock.tick(5.0)  # 'idle' stopped sending: it no longer holds anyone back
    served = _serve_rounds(q, clock, rounds=20, max_batch=4, feed=lambda q: q.put('busy', 0), cost=lambda r: 1.0)
    assert served == ['busy'] * 20


def test_take_wakes_when_a_held_back_robot_becomes_eligible_without_a_put():
    # Work conservation: 'busy' is held back by 'paused' (active, far behind in edge time);
    # when 'paused' stops being active, 'busy' may be served: a blocked take must hand it out
    # then, not sleep until its timeout (before: the full timeout, here 5 s).
    clock = FakeClock()
    q = FairFrameQueue(clock, max_lag_s=0.1, active_s=0.05)
    q.put('paused', 0)
    q.take(1, timeout=0)
    q.put('busy', 0)
    q.take(1, timeout=0)
    q.charge('busy', 1.0)
    q.put('busy', 1)
    assert q.take(4, timeout=0) == []  # held back: 'paused' is active and 1 s behind
    got = []
    worker = threading.Thread(target=lambda: got.append(q.take(4, timeout=5.0)))
    t0 = time.monotonic()
    worker.start()
    time.sleep(0.02)
    clock.tick(1.0)  # 'paused' sent nothing for 1 s: no longer active
    worker.join(timeout=6.0)
    assert [w.robot for w in got[0]] == ['busy']
    assert time.monotonic() - t0 < 1.0


def test_the_queue_never_idles_while_an_eligible_frame_waits():
    # Random puts, charges and clock steps: whenever a take with timeout 0 returns nothing,
    # no waiting frame was eligible (the same rule as _eligible, recomputed here).
    import random
    rng = random.Random(3)
    clock = FakeClock()
    q = FairFrameQueue(clock, max_lag_s=0.2, active_s=0.5)
    robots = [f'r{i}' for i in range(6)]
    for _ in range(3000):
        for r in robots:
            if rng.random() < 0.3:
                q.put(r, 0)
        clock.tick(rng.choice([0.0, 0.01, 0.3]))
        got = q.take(rng.randint(1, 4), timeout=0)
        for w in got:
            q.charge(w.robot, rng.choice([0.01, 0.05, 0.6]))
        if not got and q.waiting():
            accs = {r: q.account(r) for r in robots}
            active = [a.virtual_s for a in accs.values() if clock.t - a.last_put <= 0.5]
            waiting = [r for r in robots if r in q._waiting]
            assert active and all(accs[r].virtual_s > min(active) + 0.2 for r in waiting)
