"""ladon_ros.fleet.discovery: the discovery-server command and the edge's super-client environment."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ladon_ros.fleet.discovery import SERVERS_VAR, SUPER_CLIENT_VAR, edge_env, server_command, uses_server


def test_server_command_runs_fastdds_py_directly_when_the_wheel_ships_it():
    cmd = server_command('10.0.0.5', 11812, server_id=1)
    assert cmd[-7:] == ['discovery', '-i', '1', '-l', '10.0.0.5', '-p', '11812']
    script = Path(shutil.which('fastdds')).resolve().parent.parent / 'tools' / 'fastdds' / 'fastdds.py'
    # Not the sh wrapper: a SIGINT to the wrapper would leave the server running.
    if script.is_file():  # run by a shim that makes SIGINT and SIGTERM stop it (server_command)
        assert cmd[0] == sys.executable and cmd[1] == '-c' and cmd[3] == str(script)
    else:
        assert cmd[0] == 'fastdds'


def test_edges_become_super_clients_only_with_a_server():
    assert not uses_server({}) and not uses_server({SERVERS_VAR: ''})
    assert edge_env({'A': '1'}) == {'A': '1'}
    two = {SERVERS_VAR: '127.0.0.1:11811;127.0.0.1:11812'}
    assert uses_server(two) and edge_env(two) == {**two, SUPER_CLIENT_VAR: 'TRUE'}


def test_server_command_passes_a_server_profile():
    from ladon_ros.config_files import thin_profile
    from ladon_ros.fleet.discovery import servers_value
    cmd = server_command('10.0.0.5', 11812, server_id=1, profile=thin_profile('server'))
    assert cmd[-9:] == ['discovery', '-i', '1', '-l', '10.0.0.5', '-p', '11812', '-x', str(thin_profile('server'))]
    assert servers_value('10.0.0.5', (11811, 11812)) == '10.0.0.5:11811;10.0.0.5:11812'
