"""A userspace layer-2 relay that adds delay and loss between two interfaces.

This kernel has no ``netem`` qdisc, so the lossy link setting is made here: the relay
runs in a middle namespace, reads every Ethernet frame arriving on one veth with an
``AF_PACKET`` socket and writes it to the other veth after ``--delay-ms``, dropping each
frame with probability ``--loss`` (both directions). It works at layer 2, so ARP,
multicast discovery and IP fragments of large DDS messages all pass through it
unchanged; a dropped fragment loses the whole UDP datagram, as on a real radio link
without link-layer retransmission.

Run it as ``python -m ladon_bench.link.relay DEV_A DEV_B --delay-ms 20 --loss 0.01``;
on SIGINT/SIGTERM it prints one JSON line of counters and exits.
"""
from __future__ import annotations

import argparse
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4      # sll_pkttype of frames this host sent (our own writes)
_ETH_HDR = 14
_RCVBUF = 8 << 20        # bytes; bursts of fragments must not overflow the relay itself


def _zero_udp_checksum(frame: bytes) -> bytes:
    """Clears the UDP checksum of an IPv4 UDP frame (0 = "not computed", valid in IPv4).

    A veth hands packets over with the checksum still to be filled in (checksum offload);
    re-sent raw, that stale value would make the receiver drop them.
    """
    if len(frame) < _ETH_HDR + 20 or frame[12:14] != b'\x08\x00':
        return frame
    ihl = (frame[_ETH_HDR] & 0x0F) * 4
    frag_offset = struct.unpack_from('!H', frame, _ETH_HDR + 6)[0] & 0x1FFF
    if frame[_ETH_HDR + 9] != 17 or frag_offset != 0 or len(frame) < _ETH_HDR + ihl + 8:
        return frame
    at = _ETH_HDR + ihl + 6
    return frame[:at] + b'\x00\x00' + frame[at + 2:]


class Relay:
    """Forwards frames between two bound ``AF_PACKET`` sockets with delay and loss."""

    def __init__(self, dev_a: str, dev_b: str, *, delay_ms: float = 0.0, loss: float = 0.0, seed: int = 0):
        if not 0.0 <= loss < 1.0:
            raise ValueError(f'loss must be in [0, 1), got {loss}')
        self.delay_s, self.loss = delay_ms / 1e3, loss
        self.rng = random.Random(seed)
        self.socks = {}
        for dev in (dev_a, dev_b):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            s.bind((dev, 0))
            s.setblocking(False)
            self.socks[dev] = s
        a, b = self.socks[dev_a], self.socks[dev_b]
        self.peer = {a: b, b: a}
        self.queue: list[tuple[float, int, socket.socket, bytes]] = []
        self.counts = {'forwarded': 0, 'dropped': 0, 'send_errors': 0}
        self._seq = 0
        self.running = True

    def _receive(self, sock: socket.socket, now: float) -> None:
        while True:
            try:
                frame, addr = sock.recvfrom(65535)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            if self.loss and self.rng.random() < self.loss:
                self.counts['dropped'] += 1
                continue
            self._seq += 1
            heapq.heappush(self.queue, (now + self.delay_s, self._seq, self.peer[sock], _zero_udp_checksum(frame)))

    def _release(self, now: float) -> None:
        while self.queue and self.queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(self.queue)
            try:
                out.send(frame)
                self.counts['forwarded'] += 1
            except OSError:
                self.counts['send_errors'] += 1

    def run(self) -> None:
        """Relays until ``running`` is cleared (by a signal)."""
        socks = list(self.socks.values())
        while self.running:
            now = time.monotonic()
            timeout = max(0.0, self.queue[0][0] - now) if self.queue else 0.5
            try:
                readable, _, _ = select.select(socks, [], [], timeout)
            except InterruptedError:
                continue
            now = time.monotonic()
            for s in readable:
                self._receive(s, now)
            self._release(time.monotonic())


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (runs inside the relay namespace)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('dev_a')
    p.add_argument('dev_b')
    p.add_argument('--delay-ms', type=float, default=0.0)
    p.add_argument('--loss', type=float, default=0.0)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    relay = Relay(args.dev_a, args.dev_b, delay_ms=args.delay_ms, loss=args.loss, seed=args.seed)

    def stop(signum, frame):  # noqa: ARG001
        relay.running = False

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    relay.run()
    print(json.dumps(relay.counts), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
