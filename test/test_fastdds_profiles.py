"""Fast DDS profiles: the fleet profile is valid XML with the 0.5 s announcement and is the
default for spawned node processes; the link bench's UDP-only profile carries the same."""
import xml.etree.ElementTree as ET

from ladon_bench.link.fastdds import write_udp_profile
from ladon_ros.config_files import fleet_profile, with_fleet_profile

NS = {'d': 'http://www.eprosima.com'}


def _announcement_s(path) -> float:
    root = ET.parse(path).getroot()
    el = root.find('.//d:participant/d:rtps/d:builtin/d:discovery_config/d:leaseAnnouncement', NS)
    return int(el.find('d:sec', NS).text) + int(el.find('d:nanosec', NS).text) / 1e9


def test_fleet_profile_announces_every_half_second(tmp_path):
    assert _announcement_s(fleet_profile()) == 0.5
    udp = write_udp_profile(tmp_path / 'udp.xml')
    assert _announcement_s(udp) == 0.5
    assert ET.parse(udp).getroot().find('.//d:useBuiltinTransports', NS).text == 'false'


def test_with_fleet_profile_respects_a_profile_the_user_set():
    assert with_fleet_profile({})['FASTDDS_DEFAULT_PROFILES_FILE'] == str(fleet_profile())
    for var in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE'):
        env = {var: '/x.xml'}
        assert with_fleet_profile(env) == env


def test_node_processes_default_to_the_fleet_profile(tmp_path, monkeypatch):
    from ladon_ros.ros.processes import NodeProcesses
    monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE', raising=False)
    monkeypatch.delenv('FASTRTPS_DEFAULT_PROFILES_FILE', raising=False)
    assert NodeProcesses(5, tmp_path).env['FASTDDS_DEFAULT_PROFILES_FILE'] == str(fleet_profile())
    own = NodeProcesses(5, tmp_path, env={'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'})
    assert own.env['FASTDDS_DEFAULT_PROFILES_FILE'] == '/mine.xml'


# --- thin-link profiles (docs/FLEET.md "Thin links") ----------------------------------------------

def _duration_s(el) -> float:
    return int(el.find('d:sec', NS).text) + int(el.find('d:nanosec', NS).text) / 1e9


def _discovery(path):
    return ET.parse(path).getroot().find('.//d:participant/d:rtps/d:builtin/d:discovery_config', NS)


def test_thin_profiles_set_announcements_and_leases_per_role():
    from ladon_ros.config_files import thin_profile
    robot, edge, server = (_discovery(thin_profile(r)) for r in ('robot', 'edge', 'server'))
    # Robots announce rarely (to the servers only), re-ping servers slowly while one is missing.
    assert _duration_s(robot.find('d:leaseAnnouncement', NS)) == 30
    assert _duration_s(robot.find('d:leaseDuration', NS)) == 90
    assert _duration_s(robot.find('d:clientAnnouncementPeriod', NS)) == 1
    # Edges announce often (base LAN only) with a short lease: a dead edge leaves the graph in 3 s.
    assert _duration_s(edge.find('d:leaseAnnouncement', NS)) == 0.5
    assert _duration_s(edge.find('d:leaseDuration', NS)) == 3
    # Servers announce themselves to their clients every 30 s instead of every 3 s.
    assert server.find('d:discoveryProtocol', NS).text == 'SERVER'
    assert _duration_s(server.find('d:leaseAnnouncement', NS)) == 30
    assert _duration_s(server.find('d:leaseDuration', NS)) == 60
    # The discovery role of robots and edges comes from the environment, not the file.
    assert robot.find('d:discoveryProtocol', NS) is None and edge.find('d:discoveryProtocol', NS) is None


def test_thin_robot_has_no_writer_liveliness_protocol_and_edges_keep_it():
    from ladon_ros.config_files import thin_profile
    wlp = './/d:participant/d:rtps/d:builtin/d:use_WriterLivelinessProtocol'
    assert ET.parse(thin_profile('robot')).getroot().find(wlp, NS).text == 'false'
    assert ET.parse(thin_profile('edge')).getroot().find(wlp, NS) is None  # default: on


def test_udp_profile_copies_a_thin_profiles_discovery(tmp_path):
    from ladon_ros.config_files import thin_profile
    udp = write_udp_profile(tmp_path / 'robot.xml', base=thin_profile('robot'))
    root = ET.parse(udp).getroot()
    assert root.find('.//d:useBuiltinTransports', NS).text == 'false'
    assert _announcement_s(udp) == 30
    assert root.find('.//d:participant/d:rtps/d:builtin/d:use_WriterLivelinessProtocol', NS).text == 'false'
    assert _announcement_s(write_udp_profile(tmp_path / 'r3.xml', 3.0, base=thin_profile('robot'))) == 3.0


def test_profile_choice_auto_is_thin_with_a_discovery_server_and_per_role():
    import pytest

    from ladon_ros.config_files import dds_profile_env, resolve_profile_choice, thin_profile
    from ladon_ros.fleet.discovery import SERVERS_VAR, SUPER_CLIENT_VAR, role_env, role_vars
    assert resolve_profile_choice('auto', True) == 'thin' and resolve_profile_choice('auto', False) == 'fleet'
    assert resolve_profile_choice('/x.xml', True) == '/x.xml'
    with pytest.raises(ValueError):
        dds_profile_env('auto', {})
    ds = {SERVERS_VAR: '10.0.0.5:11811;10.0.0.5:11812'}
    assert role_vars(ds, 'robot') == {'FASTDDS_DEFAULT_PROFILES_FILE': str(thin_profile('robot'))}
    assert role_vars(ds, 'edge') == {'FASTDDS_DEFAULT_PROFILES_FILE': str(thin_profile('edge')),
                                     SUPER_CLIENT_VAR: 'TRUE'}
    assert role_vars({}, 'edge') == {'FASTDDS_DEFAULT_PROFILES_FILE': str(fleet_profile())}
    assert role_vars({**ds, 'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'}, 'robot') == {}
    assert role_env(ds, 'robot', 'fleet')['FASTDDS_DEFAULT_PROFILES_FILE'] == str(fleet_profile())
    with pytest.raises(ValueError):
        role_vars(ds, 'server')
