"""Fleet core without ROS: rendezvous assignment, robot directory, edge peers, standby."""
from __future__ import annotations

import os
import random
import subprocess
import sys

from ladon_ros.fleet.assignment import (EdgeInfo, assign, moved, owner, robots_of, score, successor,
                                        successors_of)
from ladon_ros.fleet.membership import (Changes, RobotDirectory, RobotFilter, latent_topic, normalize,
                                        robots_in_graph)
from ladon_ros.fleet.peers import EdgePeers, StandbyPolicy

ROBOTS = [f'/site/robot{i}' for i in range(200)]


def edges(*ids, serving=True):
    return [EdgeInfo(e, serving) for e in ids]


def test_score_is_stable_across_processes():
    # The hash must not depend on PYTHONHASHSEED (str hashes are salted per process).
    assert score('edge_a', '/robot1') != score('edge_a', '/robot2') != score('edge_b', '/robot1')
    code = "from ladon_ros.fleet.assignment import score; print(score('e', '/r'))"
    outs = {subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                           env={**os.environ, 'PYTHONHASHSEED': str(seed)}).stdout.strip() for seed in (1, 2)}
    assert outs == {str(score('e', '/r'))}


def test_every_robot_has_exactly_one_edge_and_the_load_is_balanced():
    a = assign(ROBOTS, edges('a', 'b', 'c'))
    assert set(a.values()) == {'a', 'b', 'c'}
    counts = {e: sum(1 for v in a.values() if v == e) for e in 'abc'}
    assert all(45 <= n <= 90 for n in counts.values()), counts
    # robots_of partitions the fleet
    parts = [set(robots_of(e, ROBOTS, edges('a', 'b', 'c'))) for e in 'abc']
    assert set().union(*parts) == set(ROBOTS) and sum(map(len, parts)) == len(ROBOTS)


def test_edge_order_does_not_matter():
    e = edges('a', 'b', 'c')
    shuffled = e[:]
    random.Random(3).shuffle(shuffled)
    assert assign(ROBOTS, e) == assign(ROBOTS, shuffled)


def test_an_edge_leaving_moves_only_its_robots():
    before = assign(ROBOTS, edges('a', 'b', 'c'))
    after = assign(ROBOTS, edges('a', 'c'))
    m = moved(before, after)
    assert m and all(old == 'b' for old, _ in m.values())
    assert {r for r, e in before.items() if e == 'b'} == set(m)


def test_the_successor_is_who_takes_over_when_the_owner_dies():
    # Each edge subscribes ahead to the robots it would take over (takeover_subscriptions
    # 'backup'), so the prediction must be exactly the assignment after the owner's death.
    live = edges('a', 'b', 'c', 'd')
    for r in ROBOTS:
        first = owner(r, live)
        assert successor(r, live) == owner(r, [e for e in live if e.edge_id != first]) != first
    parts = [set(successors_of(e, ROBOTS, live)) for e in 'abcd']
    assert set().union(*parts) == set(ROBOTS) and sum(map(len, parts)) == len(ROBOTS)
    # per robot, not per fleet: every edge backs up its own share (about a quarter each)
    assert [parts[i] == {r for r in ROBOTS if successor(r, live) == e} for i, e in enumerate('abcd')] == [True] * 4
    assert all(25 <= len(p) <= 75 for p in parts), [len(p) for p in parts]
    assert successor('/r', edges('a')) is None and successor('/r', []) is None


def test_a_standby_is_a_successor_because_a_death_promotes_it():
    live = [*edges('a', 'b'), EdgeInfo('s', serving=False)]
    for r in ROBOTS:
        first = owner(r, live)
        promoted = [EdgeInfo(e.edge_id, True) for e in live if e.edge_id != first]
        assert successor(r, live) == owner(r, promoted)
    assert successors_of('s', ROBOTS, live)  # the standby subscribes ahead to its share
    # pins hold for the successor too: a robot pinned to a and b moves from one to the other
    pinned = [EdgeInfo('a', True, ('/site/*',)), EdgeInfo('b', True, ('/site/*',)), EdgeInfo('c')]
    for r in ROBOTS[:20]:
        assert {owner(r, pinned), successor(r, pinned)} == {'a', 'b'}


def test_an_edge_joining_takes_only_robots_it_now_wins():
    before = assign(ROBOTS, edges('a', 'b'))
    after = assign(ROBOTS, edges('a', 'b', 'c'))
    m = moved(before, after)
    assert m and all(new == 'c' for _, new in m.values())
    assert 40 <= len(m) <= 100


def test_standby_and_no_edges():
    assert owner('/r', edges('a', serving=False)) is None
    assert set(assign(ROBOTS, [EdgeInfo('a'), EdgeInfo('s', serving=False)]).values()) == {'a'}
    assert assign(['/r'], []) == {'/r': None}


def test_pins_win_over_hashing_and_fall_back_when_the_pinned_edge_is_gone():
    pinned = [EdgeInfo('a'), EdgeInfo('b', pinned=('/site/robot1*',))]
    a = assign(ROBOTS, pinned)
    assert all(a[r] == 'b' for r in ROBOTS if r.startswith('/site/robot1'))
    assert any(v == 'a' for v in a.values())
    # The pinned edge died: its pinned robots go to the rest by hashing.
    assert set(assign(ROBOTS, [EdgeInfo('a')]).values()) == {'a'}
    # A standby's pins do not count until it serves.
    assert owner('/site/robot1', [EdgeInfo('a'), EdgeInfo('b', False, ('*',))]) == 'a'


def test_namespace_helpers():
    assert normalize('robot1') == '/robot1' == normalize('/robot1/')
    assert normalize('') == '/'
    assert latent_topic('/a/b') == '/a/b/latent' and latent_topic('') == '/latent'
    graph = [('/r1/latent', ['ladon_ros/msg/LatentFrame']), ('/r2/latent', ['sensor_msgs/msg/Image']),
             ('/latent', ['ladon_ros/msg/LatentFrame']), ('/r3/latent_x', ['ladon_ros/msg/LatentFrame']),
             ('/w/h/r4/latent', ['ladon_ros/msg/LatentFrame'])]
    assert robots_in_graph(graph) == {'/r1', '/', '/w/h/r4'}


def test_filter_allow_and_deny():
    f = RobotFilter(allow=('/warehouse/*',), deny=('/warehouse/test*',))
    assert f.accepts('/warehouse/r1') and f.accepts('warehouse/r1')
    assert not f.accepts('/warehouse/test3')
    assert not f.accepts('/yard/r1')
    assert RobotFilter().accepts('/anything/at/all')
    g = RobotFilter.from_patterns(['/warehouse/*', '!/warehouse/test*'])
    assert g == f
    deny_only = RobotFilter.from_patterns(['!/bad*'])
    assert deny_only.accepts('/good') and not deny_only.accepts('/bad1')
    assert RobotFilter.from_patterns(['']) == RobotFilter()


def test_directory_join_leave_timeout_and_refusal():
    d = RobotDirectory(RobotFilter(deny=('/bad*',)), timeout_s=2.0)
    assert d.update({'/r1': 1, '/bad1': 1}, 0.0) == Changes(('/r1',), ())
    assert d.robots == ('/r1',) and d.refused == {'/bad1'}
    assert not d.update({'/r1': 1}, 1.0)
    assert d.update({'/r1': 1, '/r2': 1}, 1.5).joined == ('/r2',)
    # r1's publisher vanishes: kept within the timeout, dropped after it.
    assert not d.update({'/r1': 0, '/r2': 1}, 3.0)
    assert d.update({'/r2': 1}, 3.6) == Changes((), ('/r1',))
    assert d.robots == ('/r2',)
    # A short gap (restart) within the timeout keeps the robot.
    assert not d.update({'/r2': 1}, 5.0)


def test_static_directory_ignores_the_graph():
    d = RobotDirectory(static=('robot1', '/robot2'))
    assert d.robots == ('/robot1', '/robot2') and not d.discovering
    assert not d.update({'/robot3': 1}, 100.0)
    assert d.robots == ('/robot1', '/robot2')


def test_peers_expire_and_liveliness_loss():
    p = EdgePeers(EdgeInfo('me'), timeout_s=0.4)
    assert p.heard(EdgeInfo('b'), 0.0)
    assert not p.heard(EdgeInfo('b'), 0.1)      # unchanged heartbeat
    assert p.heard(EdgeInfo('b', pinned=('/x',)), 0.2)  # pins changed
    assert p.heard(EdgeInfo('c'), 0.2)
    assert not p.heard(EdgeInfo('me'), 0.2)     # my own heartbeat echoed back
    assert [e.edge_id for e in p.live()] == ['b', 'c', 'me']
    assert p.expire(0.5) == ()
    p.heard(EdgeInfo('c'), 0.55)
    assert p.expire(0.65) == ('b',)
    # Liveliness lost: the silent one goes, the one heard just now stays.
    p.heard(EdgeInfo('d'), 0.6)
    p.heard(EdgeInfo('c'), 0.8)
    assert p.lost(0.85, grace_s=0.2) == ('d',)
    assert [e.edge_id for e in p.live()] == ['c', 'me']


def test_standby_promotes_on_loss_only():
    s = StandbyPolicy(standby=True, startup_grace_s=2.0)
    assert not s.serving
    assert not s.observe([EdgeInfo('a'), EdgeInfo('s', False)], 's', 0.0)
    assert not s.observe([EdgeInfo('a'), EdgeInfo('b'), EdgeInfo('s', False)], 's', 1.0)
    assert s.observe([EdgeInfo('a'), EdgeInfo('s', False)], 's', 1.5)  # b died
    assert s.serving and not s.observe([EdgeInfo('a')], 's', 2.0)


def test_standby_serves_when_nobody_ever_did_after_the_grace():
    s = StandbyPolicy(standby=True, startup_grace_s=2.0)
    assert not s.observe([EdgeInfo('s', False)], 's', 10.0)
    assert not s.observe([EdgeInfo('s', False)], 's', 11.9)
    assert s.observe([EdgeInfo('s', False)], 's', 12.0)
    assert StandbyPolicy().serving


def test_a_heartbeat_handled_late_does_not_revive_an_edge():
    # An edge whose callbacks ran late (a loaded machine) handles a killed peer's queued
    # heartbeats after the peer was lost: they arrived long ago, so they are stale.
    p = EdgePeers(EdgeInfo('me'), timeout_s=0.4)
    peer = EdgeInfo('peer')
    assert p.heard(peer, 10.0, received_s=9.9)
    assert p.heard_at['peer'] == 9.9                    # the arrival counts, not the callback
    assert p.expire(10.35) == ('peer',)                 # 0.45 s since it arrived: gone
    assert not p.heard(peer, 11.0, received_s=10.5) and p.stale == 1  # queued, handled 0.5 s late
    assert [e.edge_id for e in p.live()] == ['me']
    assert p.heard(peer, 11.0, received_s=10.7)         # 0.3 s late: within the timeout, heard
    assert p.heard_at['peer'] == 10.7
    assert not p.heard(peer, 11.1, received_s=10.6) and p.heard_at['peer'] == 10.7  # never goes back
    assert not p.heard(peer, 12.0, received_s=12.5) and p.heard_at['peer'] == 12.0  # not in the future
    assert p.heard(EdgeInfo('other'), 12.0)             # no arrival time: now
