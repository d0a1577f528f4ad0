"""Packaging: pinned requirements are what the venv holds, package.xml is valid, the CLI is installed."""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def requirement_pins() -> dict[str, str]:
    """name (without extras) -> pinned version, for every requirement line."""
    pins = {}
    for line in (ROOT / 'requirements.txt').read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r'([A-Za-z0-9_.-]+)(\[[\w,-]+\])?==([\w.+-]+)', line)
        assert m, f'requirements.txt: {line!r} is not pinned as name==version'
        pins[m.group(1)] = m.group(3)
    return pins


def test_every_requirement_is_pinned_to_the_installed_version():
    pins = requirement_pins()
    assert {'torch', 'compressai', 'ros-rclpy', 'colcon-core', 'pytest'} <= set(pins)
    wrong = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f'pinned vs installed (run `make setup`): {wrong}'


def test_package_xml_is_valid_format_3():
    from catkin_pkg.package import parse_package
    pkg = parse_package(str(ROOT / 'package.xml'))
    pkg.validate()
    assert pkg.package_format == 3 and pkg.name == 'ladon_ros'
    assert pkg.get_build_type() == 'ament_cmake'
    assert 'rosidl_interface_packages' in [g.name for g in pkg.member_of_groups]
    runtime = {d.name for d in pkg.exec_depends}
    assert {'rclpy', 'sensor_msgs', 'diagnostic_msgs', 'cv_bridge', 'rosidl_default_runtime'} <= runtime


def test_cli_console_script_is_in_the_venv():
    script = Path(sys.prefix) / 'bin' / 'ladon-ros'
    assert script.is_file(), f'{script} missing: run `make setup`'
    assert metadata.version('ladon-ros') == __import__('ladon_ros').__version__
