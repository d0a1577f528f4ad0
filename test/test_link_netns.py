"""The real link: namespaces, tbf, counters, the delay/loss relay, cleanup, and a short bench.

Needs root and ``ip netns``; skipped with the reason otherwise. Every test checks that
no namespace of this process survives it.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ladon_bench.link.netns import (EDGE_ADDR, Impairment, NetnsLink, cleanup_stale, our_namespaces,
                                  unavailable_reason)
from ros_harness import ros_domain

REASON = unavailable_reason()
pytestmark = [pytest.mark.netns, pytest.mark.skipif(REASON is not None, reason=f'link tests: {REASON}')]

# A UDP receiver (edge side) and sender (camera side), run inside the namespaces.
RECEIVER = r'''
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 9999)); s.settimeout(float(sys.argv[1]))
print('READY', flush=True)
n = b = 0; delays = []
try:
    while True:
        d, _ = s.recvfrom(70000); n += 1; b += len(d); delays.append((time.time() - float(d[:20])) * 1e3)
except socket.timeout:
    pass
print(json.dumps({'n': n, 'bytes': b, 'min_delay_ms': min(delays) if delays else None}))
'''
SENDER = r'''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
count, size, gap = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
for i in range(count):
    s.sendto(('%20.6f' % time.time()).encode() + b'x' * (size - 20), (sys.argv[1], 9999)); time.sleep(gap)
'''


@pytest.fixture(autouse=True)
def _no_leftovers():
    before = set(our_namespaces())
    yield
    mine = [n for n in our_namespaces() if n.startswith(f'ldn{os.getpid()}_') and n not in before]
    assert not mine, f'namespaces left behind: {mine}'


def _wait_for_line(stream, expected: str, deadline_s: float) -> None:
    """Reads ``stream`` until a line equal to ``expected``; fails after ``deadline_s``."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    end = time.monotonic() + deadline_s
    while (left := end - time.monotonic()) > 0:
        if sel.select(timeout=left):
            line = stream.readline()
            assert line, f'stream closed before {expected!r}'
            if line.strip() == expected:
                return
    raise AssertionError(f'no {expected!r} within {deadline_s} s')


def _transfer(link, count, size, gap=0.0, wait_s=2.0):
    recv = subprocess.Popen(['ip', 'netns', 'exec', link.edge_ns, sys.executable, '-c', RECEIVER, str(wait_s)],
                            stdout=subprocess.PIPE, text=True)
    try:
        _wait_for_line(recv.stdout, 'READY', deadline_s=30.0)  # bound before the first datagram
        subprocess.run(['ip', 'netns', 'exec', link.camera_ns, sys.executable, '-c', SENDER, EDGE_ADDR,
                        str(count), str(size), str(gap)], check=True, timeout=60)
        out, _ = recv.communicate(timeout=60)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.wait()
    return json.loads(out)


def test_veth_counters_see_every_byte_and_tbf_bounds_the_queue():
    with NetnsLink() as link:
        link.shape(1.0, queue_ms=400)  # 1 Mbit/s, 400 ms buffer = 50 kB
        c0 = link.counters()
        got = _transfer(link, count=100, size=5000)  # 500 kB at once: far more than the buffer
        c1 = link.counters()
    assert 0 < got['n'] < 100
    assert c1.tx_bytes - c0.tx_bytes >= got['bytes']  # what arrived crossed the veth
    assert c1.qdisc_drops > c0.qdisc_drops  # the bounded queue dropped the rest


def test_relay_adds_delay_and_loss():
    with NetnsLink(impairment=Impairment(delay_ms=50.0, loss=0.3, seed=3)) as link:
        # Neighbours are permanent: a lost ARP exchange must not drop a whole burst.
        neigh = subprocess.run(['ip', '-n', link.camera_ns, 'neigh', 'show', EDGE_ADDR], capture_output=True,
                               text=True, check=True).stdout
        assert 'PERMANENT' in neigh, neigh
        got = _transfer(link, count=200, size=200, gap=0.002)
    assert got['min_delay_ms'] >= 50.0
    assert 0.45 * 200 < got['n'] < 0.9 * 200


def test_close_removes_everything_on_sigterm():
    code = ('import sys, time; from ladon_bench.link.netns import NetnsLink\n'
            'link = NetnsLink(impairment=None).create(); print(link.camera_ns, link.edge_ns, flush=True)\n'
            'time.sleep(60)\n')
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    try:
        names = proc.stdout.readline().split()
        assert len(names) == 2 and set(names) <= set(our_namespaces())
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not set(names) & set(our_namespaces())


def test_stale_namespaces_of_a_killed_owner_are_removed():
    code = ('import time; from ladon_bench.link.netns import NetnsLink\n'
            'link = NetnsLink().create(); print(link.camera_ns, link.edge_ns, flush=True); time.sleep(60)\n')
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    try:
        names = proc.stdout.readline().split()
    finally:
        proc.kill()  # SIGKILL: no handler runs
        proc.wait()
    assert set(names) <= set(our_namespaces())
    removed = cleanup_stale()
    assert set(names) <= set(removed)
    assert not set(names) & set(our_namespaces())


@pytest.mark.ros
def test_short_bench_serves_both_codecs_across_the_shaped_veth(tmp_path, install_space, monkeypatch):
    """One codec pair (JPEG and Ladon), one link rate, a few seconds of frames."""
    from ladon_bench.link.cases import parse_codecs
    from ladon_bench.link.harness import BenchConfig, LinkBench
    if 'LADON_ROS_CACHE' not in os.environ:  # random fallback weights of today's architecture
        monkeypatch.setenv('LADON_ROS_CACHE', str(tmp_path / 'cache'))
    cfg = BenchConfig(cases=tuple(parse_codecs('jpeg@75,ladon')[:2]), rates_mbps=(5.0,), out_dir=tmp_path,
                      lossy=False, frames=20, fps=10.0, width=320, height=240, settle_s=1.0, domain_id=ros_domain('link_netns'),
                      start_timeout_s=180.0)
    rows = LinkBench(cfg, log=lambda s: None).run()
    assert [r.codec.split('@')[0] for r in rows] == ['jpeg', 'ladon']
    for r in rows:
        assert r.extra['frames_served'] > 0, (r.codec, sorted(os.listdir(tmp_path / 'logs')))
        assert r.bytes_per_frame > 0 and r.floor_ms > 0 and r.latency_p50_ms > 0
        # Fast DDS used UDP through the veth: the link carried at least the served bytes.
        assert r.extra['veth_covers_served_bytes'], r.to_json()
        assert r.extra['veth_tx_bytes'] >= r.bytes_per_frame * r.extra['frames_served']
