"""Fast DDS profiles: the fleet profile is valid XML with the 0.5 s announcement and is the
default for spawned node processes; the link bench's UDP-only profile carries the same."""
import xml.etree.ElementTree as ET

from ladon_ros.bench.link.fastdds import write_udp_profile
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
