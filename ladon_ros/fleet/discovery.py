"""Fast DDS Discovery Server: the command that runs one, and what each process must set.

Without multicast (a routed site, filtered WiFi) every participant finds the others through
a discovery server: ``ROS_DISCOVERY_SERVER`` lists the servers (``"a:p;b:p"``, the position
being the server id). A plain client learns only the endpoints of topics it uses itself, so
an edge, which must see every robot's ``<ns>/latent`` publisher in the graph before it
subscribes, runs as a super client (``ROS_SUPER_CLIENT=TRUE``).
Measured: a plain-client edge got 0 results in 60 s, a super-client edge served the robot.
With servers, the thin-link profiles (``config/fastdds_thin_{robot,edge,server}.xml``) are the
default of the launch file and the demo (``role_env``). No ROS here. See docs/FLEET.md.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Mapping

SERVERS_VAR = 'ROS_DISCOVERY_SERVER'
SUPER_CLIENT_VAR = 'ROS_SUPER_CLIENT'
PROFILE_VAR = 'FASTDDS_DEFAULT_PROFILES_FILE'


def server_command(address: str, port: int | str, server_id: int | None = 0,
                   profile: str | Path | None = None) -> list[str]:
    """``fastdds discovery -i <id> -l <address> -p <port> [-x <profile>]`` as a command that SIGINT or
    SIGTERM stops.

    ``profile``: a Fast DDS XML file whose default participant profile is the server's (it must say
    ``<discoveryProtocol>SERVER``); ``config/fastdds_thin_server.xml`` announces the server to its
    clients every 30 s instead of every 3 s (``config_files.thin_profile('server')``).
    ``server_id`` None: no ``-i`` (Fast DDS v3 then gives the server a random GUID at every
    start). Either way, clients hold a dead server's lease (60 s with the thin server profile)
    and do not match a server that comes back at its address before they dropped the dead one
    (docs/FLEET.md "Thin links"). A BACKUP server (``-b``), which would restore its database,
    crashed on restart in this Fast DDS (3.2.2: ``free(): invalid pointer``), so none is used.
    """
    args = ['discovery', *(['-i', str(server_id)] if server_id is not None else []), '-l', address, '-p', str(port)]
    if profile:
        args += ['-x', str(profile)]
    exe = shutil.which('fastdds')
    script = Path(exe).resolve().parent.parent / 'tools' / 'fastdds' / 'fastdds.py' if exe else None
    if script is not None and script.is_file():
        return [sys.executable, '-c', _STOPPABLE, str(script), *args]
    return ['fastdds', *args]


# Runs fastdds.py with SIGINT and SIGTERM both raising KeyboardInterrupt, on which it kills its
# server. Python keeps SIGINT ignored when it starts with it ignored (a launcher started in the
# background by a non-interactive shell passes that on: measured, the wrapper then ignored
# launch's SIGINT, and launch's SIGTERM killed the wrapper alone, leaving the server running).
_STOPPABLE = ('import os, runpy, signal, sys\n'
              'def stop(*_):\n'
              '    raise KeyboardInterrupt\n'
              'signal.signal(signal.SIGINT, stop)\n'
              'signal.signal(signal.SIGTERM, stop)\n'
              'sys.argv = sys.argv[1:]\n'
              'sys.path.insert(0, os.path.dirname(sys.argv[0]))  # as running the script would\n'
              "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def uses_server(env: Mapping[str, str]) -> bool:
    """True when processes with environment ``env`` discover through a server."""
    return bool(env.get(SERVERS_VAR))


def edge_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for an edge: a super client when discovery goes through a server."""
    return {**env, SUPER_CLIENT_VAR: 'TRUE'} if uses_server(env) else dict(env)


def servers_value(address: str, ports) -> str:
    """``ROS_DISCOVERY_SERVER`` for servers at ``address`` on ``ports`` (the position is the server id)."""
    return ';'.join(f'{address}:{int(p)}' for p in ports)


def role_vars(env: Mapping[str, str], role: str, profile: str = 'auto') -> dict[str, str]:
    """The variables to add to ``env`` for a fleet process of ``role`` (``'robot'`` or ``'edge'``).

    ``profile``: ``'auto'`` (thin with a discovery server in ``env``, else fleet), ``'fleet'``,
    ``'thin'``, a path, or ``''`` (Fast DDS defaults). A profile already named in ``env``
    always wins (nothing is added for it). Edges become super clients when a server is in use.
    """
    from ladon_ros.config_files import dds_profile_env, resolve_profile_choice
    if role not in ('robot', 'edge'):
        raise ValueError(f"role must be 'robot' or 'edge', got {role!r}")
    out = dds_profile_env(resolve_profile_choice(profile, uses_server(env)), dict(env), role=role)
    if role == 'edge' and uses_server(env):
        out[SUPER_CLIENT_VAR] = 'TRUE'
    return out


def role_env(env: Mapping[str, str], role: str, profile: str = 'auto') -> dict[str, str]:
    """``env`` plus ``role_vars(env, role, profile)``."""
    return {**env, **role_vars(env, role, profile)}
