"""Two network namespaces joined by a veth pair: a real, shaped link on one machine.

The camera side and the edge side each get their own network namespace; a veth pair
joins them (directly, or through a third "relay" namespace where ``ladon_bench.link.relay``
adds delay and loss, since this kernel has no ``netem``). The camera's end of the veth is
shaped with ``tc qdisc ... tbf``, so the camera -> edge direction is the slow radio link.

Everything a ``NetnsLink`` creates carries the owner's pid in its name
(``ldn<pid>_<n><side>``) and is removed by ``close()``, which also runs from ``atexit``
and from SIGINT/SIGTERM/SIGHUP handlers (``install_cleanup_handlers``);
``cleanup_stale()`` removes what a killed (SIGKILL) owner left behind. Only addresses
inside these namespaces are used.
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = 'ldn'
CAMERA_ADDR = '10.77.0.1'   # camera side, inside its own namespace only
EDGE_ADDR = '10.77.0.2'     # edge side, inside its own namespace only
_NAME_RE = re.compile(rf'^{PREFIX}(\d+)_([0-9a-z])([cem])$')
_BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'

_LIVE: set['NetnsLink'] = set()
_LOCK = threading.Lock()
_COUNTER = [0]
_HANDLERS_INSTALLED = [False]


class LinkError(RuntimeError):
    """A namespace, veth or qdisc command failed."""


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise LinkError(f'{" ".join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}')
    return proc


def unavailable_reason() -> str | None:
    """Why a netns link cannot be built here, or ``None`` when it can.

    Checks root, the ``ip``/``tc`` tools and that a namespace can actually be created
    (containers may forbid it even to root).
    """
    if os.geteuid() != 0:
        return 'needs root (network namespaces, veth and tc need CAP_NET_ADMIN)'
    for tool in ('ip', 'tc'):
        if shutil.which(tool) is None:
            return f'`{tool}` (iproute2) is not installed'
    probe = f'{PREFIX}{os.getpid()}_zp'
    proc = _run(['ip', 'netns', 'add', probe], check=False)
    if proc.returncode != 0:
        return f'`ip netns add` failed: {proc.stderr.strip()}'
    _run(['ip', 'netns', 'del', probe], check=False)
    return None


@dataclass(frozen=True)
class Impairment:
    """Delay and loss added by the userspace relay (both directions).

    Attributes:
        delay_ms: One-way delay added to every frame [ms].
        loss: Probability that an Ethernet frame (one IP packet or fragment) is dropped.
        seed: Seed of the drop decisions (reproducible runs).
    """

    delay_ms: float = 0.0
    loss: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f'loss must be in [0, 1), got {self.loss}')
        if not 0.0 <= self.delay_ms <= 10_000:
            raise ValueError(f'delay_ms must be in [0, 10000], got {self.delay_ms}')


@dataclass(frozen=True)
class Counters:
    """Byte/packet counters of the link at one instant.

    Attributes:
        tx_bytes: Bytes sent by the camera-side veth (camera -> edge, incl. Ethernet headers).
        tx_packets: Packets sent by the camera-side veth.
        rx_bytes: Bytes received by the edge-side veth.
        qdisc_drops: Packets the tbf qdisc dropped (queue full) so far.
        qdisc_backlog_bytes: Bytes waiting in the tbf queue now.
        time_s: ``time.time()`` when read.
    """

    tx_bytes: int
    tx_packets: int
    rx_bytes: int
    qdisc_drops: int
    qdisc_backlog_bytes: int
    time_s: float


class NetnsLink:
    """Camera namespace <-veth-> edge namespace, optionally via a relay namespace.

    Use as a context manager (or call ``close()`` in a ``finally``)::

        with NetnsLink() as link:
            link.shape(5.0)
            edge = link.spawn('edge', ['python', '-m', ...])
    """

    def __init__(self, *, impairment: Impairment | None = None):
        with _LOCK:
            n = _COUNTER[0]
            _COUNTER[0] += 1
        tag = f'{PREFIX}{os.getpid()}_{_BASE36[n % 36]}'
        self.camera_ns, self.edge_ns, self.relay_ns = f'{tag}c', f'{tag}e', f'{tag}m'
        self.camera_dev, self.edge_dev = f'{tag}c0', f'{tag}e0'
        self.impairment = impairment
        self.rate_mbit: float | None = None
        self._procs: list[subprocess.Popen] = []
        self._created: list[str] = []
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> 'NetnsLink':
        self.create()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def create(self) -> 'NetnsLink':
        """Creates the namespaces, the veth pair(s), addresses and routes."""
        install_cleanup_handlers()
        with _LOCK:
            _LIVE.add(self)
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def _add_ns(self, name: str) -> None:
        _run(['ip', 'netns', 'add', name])
        self._created.append(name)
        _run(['ip', '-n', name, 'link', 'set', 'lo', 'up'])

    def _create(self) -> None:
        self._add_ns(self.camera_ns)
        self._add_ns(self.edge_ns)
        if self.impairment is None:
            _run(['ip', 'link', 'add', self.camera_dev, 'netns', self.camera_ns, 'type', 'veth',
                  'peer', 'name', self.edge_dev, 'netns', self.edge_ns])
        else:
            self._add_ns(self.relay_ns)
            r0, r1 = f'{self.relay_ns}0', f'{self.relay_ns}1'
            _run(['ip', 'link', 'add', self.camera_dev, 'netns', self.camera_ns, 'type', 'veth',
                  'peer', 'name', r0, 'netns', self.relay_ns])
            _run(['ip', 'link', 'add', self.edge_dev, 'netns', self.edge_ns, 'type', 'veth',
                  'peer', 'name', r1, 'netns', self.relay_ns])
            for dev in (r0, r1):
                # promisc: the relay must see frames addressed to the far end's MAC.
                _run(['ip', '-n', self.relay_ns, 'link', 'set', dev, 'promisc', 'on', 'up'])
        for ns, dev, addr in ((self.camera_ns, self.camera_dev, CAMERA_ADDR),
                              (self.edge_ns, self.edge_dev, EDGE_ADDR)):
            _run(['ip', '-n', ns, 'addr', 'add', f'{addr}/24', 'dev', dev])
            _run(['ip', '-n', ns, 'link', 'set', dev, 'up'])
            # DDS discovery is multicast; without a route the namespace has none for it.
            _run(['ip', '-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev])
        # Permanent neighbour entries: through a lossy relay, ARP itself is lost (with 30 %
        # loss all three tries of a request/reply pair fail about 13 % of the time), and the
        # kernel then drops every packet it queued for that address. The link under test is
        # the data path; resolution is not part of it.
        for ns, dev, peer_ns, peer_dev, peer_addr in (
                (self.camera_ns, self.camera_dev, self.edge_ns, self.edge_dev, EDGE_ADDR),
                (self.edge_ns, self.edge_dev, self.camera_ns, self.camera_dev, CAMERA_ADDR)):
            _run(['ip', '-n', ns, 'neigh', 'replace', peer_addr, 'lladdr', _mac(peer_ns, peer_dev),
                  'dev', dev, 'nud', 'permanent'])
        if self.impairment is not None:
            imp = self.impairment
            self.spawn('relay', [sys.executable, '-m', 'ladon_bench.link.relay',
                                 f'{self.relay_ns}0', f'{self.relay_ns}1', '--delay-ms', str(imp.delay_ms),
                                 '--loss', str(imp.loss), '--seed', str(imp.seed)])

    def close(self) -> None:
        """Stops every spawned process and deletes every namespace (and so every veth)."""
        if self._closed:
            return
        self._closed = True
        stop_processes(self._procs)
        for ns in reversed(self._created):
            # Processes that slipped out of our process groups would keep the namespace alive.
            _kill_ns_pids(ns)
            _run(['ip', 'netns', 'del', ns], check=False)
        self._created.clear()
        with _LOCK:
            _LIVE.discard(self)

    # --- shaping and counters -------------------------------------------------------

    def shape(self, rate_mbit: float, *, queue_ms: float = 400.0, burst_bytes: int | None = None) -> None:
        """Limits camera -> edge to ``rate_mbit`` with a token bucket (``tc ... tbf``).

        Args:
            rate_mbit: Link rate [Mbit/s].
            queue_ms: Longest a packet may wait in the qdisc before it is dropped [ms]
                (the radio's buffer; bounds the queueing delay the link can add).
            burst_bytes: Bucket size [bytes]; default one MTU-sized frame more than
                what the kernel needs, so the floor math (bytes / rate) holds.
        """
        if rate_mbit <= 0:
            raise ValueError(f'rate_mbit must be > 0, got {rate_mbit}')
        burst = burst_bytes or max(4096, int(rate_mbit * 1e6 / 8 / 1000))  # >= 1 ms of tokens
        verb = 'change' if self.rate_mbit is not None else 'add'
        _run(['tc', '-n', self.camera_ns, 'qdisc', verb, 'dev', self.camera_dev, 'root', 'tbf',
              'rate', f'{int(rate_mbit * 1000)}kbit', 'burst', str(burst), 'latency', f'{int(queue_ms)}ms'])
        self.rate_mbit = float(rate_mbit)

    def unshape(self) -> None:
        """Removes the tbf qdisc (line rate)."""
        if self.rate_mbit is not None:
            _run(['tc', '-n', self.camera_ns, 'qdisc', 'del', 'dev', self.camera_dev, 'root'], check=False)
            self.rate_mbit = None

    def counters(self) -> Counters:
        """Reads the veth and qdisc counters (``ip -s link``, ``tc -s qdisc``)."""
        tx = _link_stats(self.camera_ns, self.camera_dev)['tx']
        rx = _link_stats(self.edge_ns, self.edge_dev)['rx']
        drops = backlog = 0
        if self.rate_mbit is not None:
            out = _run(['tc', '-n', self.camera_ns, '-s', '-j', 'qdisc', 'show', 'dev', self.camera_dev])
            for q in json.loads(out.stdout or '[]'):
                if q.get('kind') == 'tbf':
                    drops, backlog = int(q.get('drops', 0)), int(q.get('backlog', 0))
        return Counters(int(tx['bytes']), int(tx['packets']), int(rx['bytes']), drops, backlog, time.time())

    # --- processes ----------------------------------------------------------------

    def namespace(self, side: str) -> str:
        """Namespace name of ``side`` ('camera', 'edge' or 'relay')."""
        try:
            return {'camera': self.camera_ns, 'edge': self.edge_ns, 'relay': self.relay_ns}[side]
        except KeyError:
            raise ValueError(f"side must be 'camera', 'edge' or 'relay', got {side!r}") from None

    def spawn(self, side: str, argv: list[str], *, env: dict[str, str] | None = None,
              log: str | Path | None = None) -> subprocess.Popen:
        """Starts ``argv`` inside ``side``'s namespace in its own process group.

        The process is stopped by ``close()``. Output goes to ``log`` (default: discarded).
        """
        if self._closed:
            raise LinkError('link is closed')
        out = open(log, 'ab') if log else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(['ip', 'netns', 'exec', self.namespace(side), *argv], env=env,
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        finally:
            if log:
                out.close()
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
        """Stops one spawned process (SIGINT, then SIGTERM, then SIGKILL)."""
        stop_processes([proc], timeout_s)
        if proc in self._procs:
            self._procs.remove(proc)


def stop_processes(procs: list[subprocess.Popen], timeout_s: float = 5.0) -> None:
    """SIGINT each process group, then SIGTERM, then SIGKILL what is left; reaps all."""
    for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        alive = [p for p in procs if p.poll() is None]
        if not alive:
            break
        for p in alive:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait_s
        for p in alive:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass


def _mac(ns: str, dev: str) -> str:
    out = _run(['ip', '-n', ns, '-j', 'link', 'show', 'dev', dev])
    return json.loads(out.stdout)[0]['address']


def _link_stats(ns: str, dev: str) -> dict:
    out = _run(['ip', '-n', ns, '-s', '-j', 'link', 'show', 'dev', dev])
    return json.loads(out.stdout)[0]['stats64']


def _kill_ns_pids(ns: str) -> None:
    out = _run(['ip', 'netns', 'pids', ns], check=False)
    for tok in out.stdout.split():
        try:
            os.kill(int(tok), signal.SIGKILL)
        except (ValueError, ProcessLookupError, PermissionError):
            pass


def close_all() -> None:
    """Closes every link this process still holds (atexit and signal handlers call it)."""
    with _LOCK:
        live = list(_LIVE)
    for link in live:
        link.close()


def _on_signal(signum, frame):  # noqa: ARG001 (signal handler signature)
    close_all()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def install_cleanup_handlers() -> None:
    """Makes SIGINT/SIGTERM/SIGHUP and interpreter exit remove every live link (once)."""
    if _HANDLERS_INSTALLED[0]:
        return
    _HANDLERS_INSTALLED[0] = True
    atexit.register(close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # Keep a handler someone else set deliberately (e.g. pytest's); chain to default ones.
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, _on_signal)


def cleanup_stale() -> list[str]:
    """Deletes namespaces named by this module whose owner process is gone (e.g. SIGKILLed).

    Returns:
        The names of the namespaces it removed.
    """
    out = _run(['ip', 'netns', 'list'], check=False)
    removed = []
    for line in out.stdout.splitlines():
        name = line.split()[0] if line.split() else ''
        m = _NAME_RE.match(name)
        if m and not Path(f'/proc/{m.group(1)}').exists():
            _kill_ns_pids(name)
            _run(['ip', 'netns', 'del', name], check=False)
            removed.append(name)
    return removed


def our_namespaces() -> list[str]:
    """Names of every namespace this module's naming scheme owns (any owner pid)."""
    out = _run(['ip', 'netns', 'list'], check=False)
    return [ln.split()[0] for ln in out.stdout.splitlines() if ln.split() and _NAME_RE.match(ln.split()[0])]
