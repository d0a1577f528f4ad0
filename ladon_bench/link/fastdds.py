"""The UDP-only Fast DDS profile of the link benchmark (fleet and thin-link profiles: ``ladon_ros.config_files``).

Fast DDS may move data between processes of one host through shared memory, which would
bypass the veth and fake a fast link. The profile below disables the builtin transports
(UDP + SHM) and declares a UDPv4 transport alone; ``FASTDDS_BUILTIN_TRANSPORTS=UDPv4``
says the same for Fast DDS versions that read the variable. The harness still checks the
veth byte counters against the bytes the edge received, so this is belt and braces.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ladon_ros.config_files import fleet_profile

# Socket buffers asked of the kernel [bytes]; it caps them at net.core.{r,w}mem_max.
# Large frames arrive as bursts of IP fragments: a small receive buffer drops them.
SOCKET_BUFFER_BYTES = 4 << 20


def announcement_period_xml(profile: str | Path | None = None) -> str:
    """The ``<leaseAnnouncement>`` element of a shipped profile (default: the fleet profile)."""
    text = Path(profile or fleet_profile()).read_text()
    start, end = text.index('<leaseAnnouncement>'), text.index('</leaseAnnouncement>')
    return text[start:end + len('</leaseAnnouncement>')]


def _builtin_xml(text: str) -> str:
    """The inner XML of the participant's ``<builtin>`` element of a profile ('' if none)."""
    m = re.search(r'<builtin>(.*?)</builtin>', text, re.S)
    return m.group(1).strip() if m else ''


def _writer_profiles_xml(text: str) -> str:
    """Every ``<data_writer>`` profile of a profile file (the thin edge's default writer QoS)."""
    return '\n'.join(m.group(0) for m in re.finditer(r'<data_writer\b.*?</data_writer>', text, re.S))


_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by ladon_bench.link.fastdds: UDPv4 only (no shared memory), for the link benchmark;
     discovery and writer settings copied from {source}. -->
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>ladon_udp_only</transport_id>
        <type>UDPv4</type>
        <sendBufferSize>{buf}</sendBufferSize>
        <receiveBufferSize>{buf}</receiveBufferSize>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="ladon_udp_only_participant" is_default_profile="true">
      <rtps>
        <userTransports>
          <transport_id>ladon_udp_only</transport_id>
        </userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
        <builtin>
          {builtin}
        </builtin>
      </rtps>
    </participant>
    {writers}
  </profiles>
</dds>
"""


def write_udp_profile(path: str | Path, announce_s: float = 0.0, base: str | Path | None = None) -> Path:
    """Writes the UDP-only Fast DDS profile to ``path`` and returns it.

    Args:
        path: Where.
        announce_s: Participant announcement period [s]; 0 = the base profile's. Each
            announcement goes to the multicast group and to every known participant, so on a
            shared link it is a per-robot cost (``bench-fleet --announce-s`` measures it).
        base: The shipped profile whose discovery (``<builtin>``) and ``<data_writer>`` settings
            are copied (default: the fleet profile; ``config_files.thin_profile(role)`` for the
            thin-link profiles).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = Path(base or fleet_profile())
    text = base.read_text()
    builtin = _builtin_xml(text)
    if announce_s:
        sec, nsec = int(announce_s), int(round((announce_s - int(announce_s)) * 1e9))
        builtin = builtin.replace(announcement_period_xml(base),
                                  f'<leaseAnnouncement><sec>{sec}</sec><nanosec>{nsec}</nanosec></leaseAnnouncement>')
    path.write_text(_PROFILE.format(buf=SOCKET_BUFFER_BYTES, builtin=builtin, writers=_writer_profiles_xml(text),
                                    source=base.name))
    return path


def dds_env(profile: str | Path, domain_id: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a ROS process of the benchmark.

    Args:
        profile: Path written by ``write_udp_profile``.
        domain_id: ``ROS_DOMAIN_ID`` (each run its own).
        base: Environment to extend (default: ``os.environ``).
    """
    env = dict(os.environ if base is None else base)
    env.update({
        'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp',
        'FASTDDS_DEFAULT_PROFILES_FILE': str(profile),
        'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4',
        'ROS_DOMAIN_ID': str(int(domain_id)),
        # Discovery must leave the namespace's loopback to reach the other side.
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET',
        'PYTHONUNBUFFERED': '1',
    })
    env.pop('ROS_LOCALHOST_ONLY', None)
    env.pop('FASTRTPS_DEFAULT_PROFILES_FILE', None)  # deprecated name; FASTDDS_ wins
    env.pop('ROS_STATIC_PEERS', None)
    return env
