"""Fleet core rules one at a time (boundaries, the score's exact form, pattern parsing); no ROS.

Complements ``test_fleet_core.py``: each test here fails when the rule it names is changed.
"""
from __future__ import annotations

import hashlib

from ladon_ros.fleet.assignment import EdgeInfo, moved, score
from ladon_ros.fleet.membership import Changes, RobotDirectory, RobotFilter, latent_topic
from ladon_ros.fleet.peers import EdgePeers, StandbyPolicy


def test_score_is_a_big_endian_64_bit_blake2b():
    digest = hashlib.blake2b(b'/edge_a\0/robot1', digest_size=8).digest()
    assert score('/edge_a', '/robot1') == int.from_bytes(digest, 'big')
    assert 0 <= score('/edge_a', '/robot1') < 2 ** 64


def test_moved_includes_robots_that_joined_or_left():
    before = {'/r1': 'a', '/r2': 'a', '/gone': 'b'}
    after = {'/r1': 'a', '/r2': 'b', '/new': 'a'}
    assert moved(before, after) == {'/r2': ('a', 'b'), '/gone': ('b', None), '/new': (None, 'a')}
    assert moved(after, after) == {}


def test_latent_topic_of_the_root_namespace():
    assert latent_topic('/') == '/latent'
    assert latent_topic('robot1/') == '/robot1/latent'


def test_changes_are_true_when_anything_joined_or_left():
    assert not Changes()
    assert Changes(joined=('/a',)) and Changes(left=('/a',)) and Changes(('/a',), ('/b',))


def test_static_robots_never_time_out():
    d = RobotDirectory(static=('/r1',), timeout_s=1.0)
    assert d.last_seen == {'/r1': float('inf')}
    assert not d.update({}, now_s=1e12) and d.robots == ('/r1',)


def test_one_skipped_robot_does_not_hide_the_next():
    d = RobotDirectory(robot_filter=RobotFilter(allow=('*',), deny=('/test*',)))
    # Dict order: a robot without a publisher, then a denied one, then one to add.
    changes = d.update({'/idle': 0, '/test1': 1, '/r1': 1}, now_s=0.0)
    assert changes.joined == ('/r1',) and d.refused == {'/test1'}


def test_robot_times_out_only_after_more_than_timeout():
    d = RobotDirectory(timeout_s=5.0)
    d.update({'/r1': 1}, now_s=0.0)
    assert not d.update({}, now_s=5.0).left
    assert d.update({}, now_s=5.001).left == ('/r1',)


def test_filter_from_patterns():
    f = RobotFilter.from_patterns(['/a/*', '!/a/test*', '', '!'])
    assert (f.allow, f.deny) == (('/a/*',), ('/a/test*',))
    assert f.accepts('/a/r1') and not f.accepts('/a/test1') and not f.accepts('/b/r1')
    everything_but = RobotFilter.from_patterns(['!/test*'])
    assert (everything_but.allow, everything_but.deny) == (('*',), ('/test*',))
    assert everything_but.accepts('/r1') and not everything_but.accepts('/test2')
    assert RobotFilter.from_patterns([]) == RobotFilter(('*',), ())


def test_peer_expires_only_after_more_than_timeout():
    me = EdgeInfo('/me')
    p = EdgePeers(me, timeout_s=0.5)  # times exact in binary: the boundary itself is tested
    p.heard(EdgeInfo('/b'), now_s=1.0)
    assert p.expire(now_s=1.5) == () and [e.edge_id for e in p.live()] == ['/b', '/me']
    assert p.expire(now_s=1.5001) == ('/b',)
    assert p.expire(now_s=2.0) == ()   # forgetting twice is harmless
    p.heard(EdgeInfo('/c'), now_s=3.0)
    assert p.lost(now_s=3.25, grace_s=0.25) == ()
    assert p.lost(now_s=3.2501, grace_s=0.25) == ('/c',)
    assert p.info == {} and p.heard_at == {}


def test_forgetting_a_peer_already_gone_is_harmless():
    p = EdgePeers(EdgeInfo('/me'))
    p._forget('/never_heard')
    p.info['/half'] = EdgeInfo('/half')  # heard_at and info may disagree after a race
    p._forget('/half')
    assert p.info == {} and p.heard_at == {}


def test_standby_counts_only_other_serving_edges():
    s = StandbyPolicy(standby=True, startup_grace_s=2.0)
    live = [EdgeInfo('/me', serving=False), EdgeInfo('/other_standby', serving=False)]
    # Nobody else serves: promoted after the grace even though non-serving edges are live.
    assert not s.observe(live, '/me', now_s=0.0)
    assert s.seen_serving == set()
    assert s.observe(live, '/me', now_s=2.0) and s.serving


def test_standby_remembers_every_serving_edge_it_has_seen():
    s = StandbyPolicy(standby=True)
    a, b = EdgeInfo('/a'), EdgeInfo('/b')
    assert not s.observe([a], '/me', now_s=0.0)
    assert not s.observe([a, b], '/me', now_s=0.1)
    assert not s.observe([a, b], '/me', now_s=0.2)
    assert s.seen_serving == {'/a', '/b'}
    assert s.observe([b], '/me', now_s=0.3)  # /a, seen earlier, is gone


def test_latent_topic_keeps_trailing_letters_and_short_deny_patterns():
    assert latent_topic('/robotX') == '/robotX/latent'
    assert RobotFilter.from_patterns(['!a']).deny == ('a',)
