"""ROS 2 message definitions as MCAP ``ros2msg`` schemas (the text rosbag2 stores per topic).

A schema is the type's ``.msg`` text followed by the text of every type it uses, each after
a ``MSG: pkg/Type`` line and a separator line of 80 ``=``. Definitions are looked up in the
``share/<pkg>/msg`` folders of ``AMENT_PREFIX_PATH`` (a sourced workspace or this checkout's
env.sh), and ``ladon_ros`` types also in this source tree's ``msg/``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

SEPARATOR = '=' * 80
PRIMITIVES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
              'uint32', 'int64', 'uint64', 'string', 'wstring'}
_SOURCE_MSG = Path(__file__).resolve().parents[2] / 'msg'


class MessageDefinitionNotFound(LookupError):
    """No ``.msg`` file for a type on the search path."""


def split_type(name: str) -> tuple[str, str]:
    """'pkg/msg/Type' or 'pkg/Type' -> ('pkg', 'Type')."""
    parts = name.split('/')
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[1] != 'msg'):
        raise ValueError(f'not a message type name: {name!r}')
    return parts[0], parts[-1]


def find_definition(name: str) -> str:
    """The ``.msg`` text of ``name`` ('pkg/msg/Type' or 'pkg/Type').

    Raises:
        MessageDefinitionNotFound: Not in any ``share/<pkg>/msg`` of ``AMENT_PREFIX_PATH``.
    """
    pkg, typ = split_type(name)
    folders = [Path(p) / 'share' / pkg / 'msg' for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    if pkg == 'ladon_ros':
        folders.append(_SOURCE_MSG)
    for folder in folders:
        path = folder / f'{typ}.msg'
        if path.is_file():
            return path.read_text()
    raise MessageDefinitionNotFound(f'{pkg}/msg/{typ}.msg not found under AMENT_PREFIX_PATH '
                                    '(source scripts/env.sh or your ROS 2 workspace)')


def field_types(definition: str, pkg: str) -> list[str]:
    """The non-primitive field types of a ``.msg`` text, as 'pkg/Type', in order of appearance."""
    out = []
    for line in definition.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line or re.match(r'^\S+\s+[A-Za-z_]\w*\s*=', line):
            continue  # blank, comment or constant
        base = re.sub(r'\[.*?\]$', '', line.split()[0])
        base = re.sub(r'<=\d+$', '', base)
        if base in PRIMITIVES:
            continue
        if base == 'Header':
            base = 'std_msgs/Header'  # the one legacy short name
        dep = base if '/' in base else f'{pkg}/{base}'
        dep = '/'.join(split_type(dep))
        if dep not in out:
            out.append(dep)
    return out


def schema(name: str) -> str:
    """The ``ros2msg`` schema text of ``name`` with all its dependencies (depth first, once each)."""
    pkg, typ = split_type(name)
    main = find_definition(name)
    seen: list[str] = []

    def visit(definition: str, package: str) -> None:
        for dep in field_types(definition, package):
            if dep not in seen:
                seen.append(dep)
                visit(find_definition(dep), dep.split('/')[0])

    visit(main, pkg)
    parts = [main.rstrip('\n')]
    for dep in seen:
        parts.append(f'{SEPARATOR}\nMSG: {dep}\n{find_definition(dep).rstrip(chr(10))}')
    return '\n'.join(parts) + '\n'
