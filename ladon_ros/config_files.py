"""The package's config files (``config/``) and the Fast DDS profile choice of its nodes.

A config file is looked up, in order, in the source checkout's ``config/`` (this module's
``../config``), then in ``share/ladon_ros/config`` of the install prefix this module lies in
(colcon: ``<prefix>/lib/python3.X/site-packages/ladon_ros``; pip: ``sys.prefix``), then of
every ``AMENT_PREFIX_PATH`` entry. CMakeLists.txt and setup.py install ``config/`` there.

The fleet Fast DDS profile (``config/fastdds_fleet.xml``) announces each participant every
0.5 s instead of Fast DDS's 3 s, so a restarted node's topics are matched within about 1 s.
The launch file (``dds_profile:=``), ``ladon-ros demo`` and the tests give it to every node
unless the user already exported a profile. With a discovery server the default is the
thin-link pair instead (``config/fastdds_thin_robot.xml`` for robots, ``fastdds_thin_edge.xml``
for edges; ``dds_profile_env(..., role=...)``, docs/FLEET.md "Thin links"). No ROS here.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = 'ladon_ros'
FLEET_PROFILE_NAME = 'fastdds_fleet.xml'
THIN_PROFILE_NAMES = {'robot': 'fastdds_thin_robot.xml', 'edge': 'fastdds_thin_edge.xml',
                      'server': 'fastdds_thin_server.xml'}
PROFILE_CHOICES = ('auto', 'fleet', 'thin', '')  # or a path
PROFILE_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')  # new, deprecated name

_HERE = Path(__file__).resolve().parent


def _config_dirs() -> list[Path]:
    """Folders that may hold the package's config files, most specific first."""
    dirs = [_HERE.parent / 'config']
    dirs += [p / 'share' / PACKAGE / 'config' for p in _HERE.parents]
    prefixes = [sys.prefix, *os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)]
    dirs += [Path(p) / 'share' / PACKAGE / 'config' for p in prefixes if p]
    return dirs


def config_file(name: str) -> Path:
    """Path of config file ``name`` (e.g. ``'camera_encoder.yaml'``).

    Raises:
        FileNotFoundError: Neither the checkout nor an install prefix has it.
    """
    dirs = _config_dirs()
    for folder in dirs:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f'config file {name!r} not found in {[str(d) for d in dirs]}')


def fleet_profile() -> Path:
    """The shipped fleet Fast DDS profile."""
    return config_file(FLEET_PROFILE_NAME)


def thin_profile(role: str) -> Path:
    """The shipped thin-link profile of ``role`` (``'robot'``, ``'edge'`` or ``'server'``: the discovery server's)."""
    if role not in THIN_PROFILE_NAMES:
        raise ValueError(f"role must be one of {sorted(THIN_PROFILE_NAMES)}, got {role!r}")
    return config_file(THIN_PROFILE_NAMES[role])


def resolve_profile_choice(choice: str, discovery_server: bool) -> str:
    """``'auto'`` -> ``'thin'`` with a discovery server, else ``'fleet'``; other choices unchanged.

    The thin profiles need a discovery server: their robots announce every 10 s, which
    under SIMPLE (multicast) discovery would also delay matching of restarted nodes.
    """
    if choice == 'auto':
        return 'thin' if discovery_server else 'fleet'
    return choice


def dds_profile_env(choice: str, environ: dict[str, str] | None = None, role: str = 'robot') -> dict[str, str]:
    """The environment variables that give a node process the Fast DDS profile ``choice``.

    Args:
        choice: ``'fleet'`` (the shipped profile), ``'thin'`` (the thin-link profile of
            ``role``), a path to an XML profile, or ``''`` (Fast DDS defaults). Resolve
            ``'auto'`` with ``resolve_profile_choice`` first.
        environ: The environment the process inherits (default ``os.environ``); a profile
            named there already always wins.
        role: ``'robot'`` or ``'edge'`` (only ``'thin'`` differs per role).

    Returns:
        ``{'FASTDDS_DEFAULT_PROFILES_FILE': path}``, or ``{}`` when nothing is to be set.
    """
    environ = os.environ if environ is None else environ
    if choice == 'auto':
        raise ValueError("resolve 'auto' with resolve_profile_choice() first")
    if not choice or any(environ.get(v) for v in PROFILE_VARS):
        return {}
    path = {'fleet': fleet_profile, 'thin': lambda: thin_profile(role)}.get(choice, lambda: Path(choice))()
    return {'FASTDDS_DEFAULT_PROFILES_FILE': str(path)}


def with_fleet_profile(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus the fleet profile, unless ``env`` names a profile already."""
    return {**env, **dds_profile_env('fleet', env)}
