"""What crosses a veth, by RTPS traffic class: ``python -m ladon_bench.link.rtps_census DEV SECONDS``.

Run inside a benchmark namespace (``ip netns exec <ns> ...``, root): counts the bytes the
interface SENDS (Ethernet frames, as its tx counter does) for ``SECONDS`` and sorts every
UDP datagram into a class by its RTPS submessages and writer entity:

- ``spdp`` participant announcements, ``sedp`` endpoint discovery, ``wlp`` liveliness,
  ``type_lookup``; ``builtin_ack``/``builtin_hb`` heartbeats and acknacks of those;
- ``user_data`` (DATA/DATA_FRAG of a user writer), ``user_hb``, ``user_ack``, ``user_gap``;
- ``ip_fragment`` (the non-first fragments of a large datagram: counted with their class when
  the first fragment is seen, here they are kept apart), ``other``.

It prints one JSON object: ``{"seconds", "bytes": {class: n}, "packets": {class: n},
"user_data_riders": {submessage: bytes riding in user-data datagrams (riders())}, "flows":
{class: {"<dst port> <frame bytes> <submessages:writer entity>": packets}}}`` (the destination port
tells a discovery server,
11811/11812 in the fleet benchmark, from a participant's metatraffic/user ports). Used to
account for the per-robot protocol overhead of the fleet benchmark (docs/FLEET_BENCH.md).
No ROS needed.
"""
from __future__ import annotations

import json
import socket
import struct
import sys
import time
from collections import Counter

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
# RTPS submessage ids
DATA, DATA_FRAG, HEARTBEAT, ACKNACK, GAP, HEARTBEAT_FRAG, NACK_FRAG = 0x15, 0x16, 0x07, 0x06, 0x08, 0x13, 0x12
BUILTIN_WRITERS = {
    0x000100c2: 'spdp', 0x000003c2: 'sedp', 0x000004c2: 'sedp', 0x000200c2: 'wlp',
    0x000300c3: 'type_lookup', 0x000301c3: 'type_lookup', 0x000300c4: 'type_lookup', 0x000301c4: 'type_lookup',
}


def classify(udp_payload: bytes) -> str:
    """The traffic class of one UDP datagram (see module doc)."""
    if len(udp_payload) < 20 or udp_payload[:4] != b'RTPS':
        return 'other'
    pos, kinds = 20, []
    while pos + 4 <= len(udp_payload):
        sid, flags = udp_payload[pos], udp_payload[pos + 1]
        (length,) = struct.unpack('<H' if flags & 1 else '>H', udp_payload[pos + 2:pos + 4])
        body = udp_payload[pos + 4:pos + 4 + (length or len(udp_payload))]
        end = '<' if flags & 1 else '>'
        if sid in (DATA, DATA_FRAG) and len(body) >= 12:
            (writer,) = struct.unpack('>I', body[8:12])
            kinds.append(BUILTIN_WRITERS.get(writer, 'builtin_other' if writer & 0xc0 == 0xc0 else 'user_data'))
        elif sid in (HEARTBEAT, HEARTBEAT_FRAG, ACKNACK, NACK_FRAG, GAP) and len(body) >= 8:
            (reader,) = struct.unpack('>I', body[0:4])
            (writer,) = struct.unpack('>I', body[4:8])
            entity = writer if sid in (HEARTBEAT, HEARTBEAT_FRAG, GAP) else reader
            builtin = (entity & 0xc0) == 0xc0 or entity in BUILTIN_WRITERS
            name = {HEARTBEAT: 'hb', HEARTBEAT_FRAG: 'hb', ACKNACK: 'ack', NACK_FRAG: 'ack', GAP: 'gap'}[sid]
            kinds.append(('builtin_' if builtin else 'user_') + name)
        del end
        if length == 0:
            break
        pos += 4 + length
    # A datagram carrying user data is user data (heartbeats piggyback on it); else its first kind.
    if 'user_data' in kinds:
        return 'user_data'
    return kinds[0] if kinds else 'rtps_empty'


# Submessages that ride along in a datagram carrying user data, by what they are for (bytes
# counted with their 4-byte header). STATISTICS: the 60-byte network-statistics submessage
# (id 0x80) that a Fast DDS built with FASTDDS_STATISTICS (the ROS wheels, as shipped)
# appends to every datagram it sends (RTPSMessageGroup::send).
STATISTICS_SUBMESSAGE = 0x80
_RIDERS = {0x0e: 'info_dst', 0x09: 'info_ts', STATISTICS_SUBMESSAGE: 'statistics', HEARTBEAT: 'piggyback_hb',
           GAP: 'gap', 0x01: 'pad'}


def riders(udp_payload: bytes) -> dict[str, int]:
    """Bytes of the submessages of one datagram other than DATA/DATA_FRAG, by ``_RIDERS`` name
    (``'rtps_header'``: the 20-byte RTPS header)."""
    out = {'rtps_header': 20}
    pos = 20
    while pos + 4 <= len(udp_payload):
        sid, flags = udp_payload[pos], udp_payload[pos + 1]
        (length,) = struct.unpack('<H' if flags & 1 else '>H', udp_payload[pos + 2:pos + 4])
        size = 4 + (length or len(udp_payload) - pos - 4)
        if sid not in (DATA, DATA_FRAG):
            key = _RIDERS.get(sid, f'submessage_{sid:#04x}')
            out[key] = out.get(key, 0) + size
        if length == 0:
            break
        pos += 4 + length
    return out


def entities(udp_payload: bytes) -> str:
    """The submessages of one RTPS datagram with their writer entity ids, e.g. ``'HB:00001203'``
    (the census's flow key: which writer's heartbeats, acknacks or data reach whom)."""
    names = {0x09: 'TS', 0x0e: 'DST', 0x01: 'PAD', DATA: 'DATA', DATA_FRAG: 'FRAG', HEARTBEAT: 'HB', ACKNACK: 'ACK',
             GAP: 'GAP', HEARTBEAT_FRAG: 'HBF', NACK_FRAG: 'NACKF'}
    pos, out = 20, []
    while pos + 4 <= len(udp_payload):
        sid, flags = udp_payload[pos], udp_payload[pos + 1]
        (length,) = struct.unpack('<H' if flags & 1 else '>H', udp_payload[pos + 2:pos + 4])
        body = udp_payload[pos + 4:pos + 4 + (length or len(udp_payload))]
        if sid in (DATA, DATA_FRAG) and len(body) >= 12:
            out.append(f'{names[sid]}:{body[8:12].hex()}')
        elif sid in (HEARTBEAT, ACKNACK, GAP, HEARTBEAT_FRAG, NACK_FRAG) and len(body) >= 8:
            out.append(f'{names[sid]}:{body[4:8].hex()}')
        else:
            out.append(f'{names.get(sid, hex(sid))}{length}')
        if length == 0:
            break
        pos += 4 + length
    return ','.join(out)


def census(dev: str, seconds: float) -> dict:
    """Bytes and packets ``dev`` sent in ``seconds``, by class."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((dev, 0))
    s.settimeout(0.2)
    nbytes, npackets = Counter(), Counter()
    flows: dict[str, Counter] = {}
    riding = Counter()  # submessage bytes riding in user-data datagrams (riders)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != PACKET_OUTGOING or len(frame) < 34 or frame[12:14] != b'\x08\x00':
            continue
        ihl = (frame[14] & 0x0f) * 4
        frag = struct.unpack('>H', frame[20:22])[0]
        proto = frame[23]
        dport = None
        if frag & 0x1fff:  # a later fragment of a large datagram
            kind = 'ip_fragment'
        elif proto != 17:
            kind = 'other'
        else:
            kind = classify(frame[14 + ihl + 8:])
            dport = struct.unpack('>H', frame[14 + ihl + 2:14 + ihl + 4])[0]
            if kind == 'user_data':
                riding.update(riders(frame[14 + ihl + 8:]))
        nbytes[kind] += len(frame)
        npackets[kind] += 1
        if kind != 'ip_fragment':  # who gets what, in packets of which size, made of which submessages
            flows.setdefault(kind, Counter())[f'{dport} {len(frame)} {entities(frame[14 + ihl + 8:])}'] += 1
    return {'seconds': seconds, 'bytes': dict(nbytes), 'packets': dict(npackets), 'user_data_riders': dict(riding),
            'flows': {k: dict(v.most_common(12)) for k, v in flows.items()}}


if __name__ == '__main__':
    print(json.dumps(census(sys.argv[1], float(sys.argv[2]))))
