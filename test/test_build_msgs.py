"""The colcon build of msg/: every message imports from ladon_ros.msg, survives rclpy's CDR
serialisation with every field set, matches its source definition, and documents every field."""
from __future__ import annotations

import array
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MSG_FILES = sorted((ROOT / 'msg').glob('*.msg'))
MSG_NAMES = [p.stem for p in MSG_FILES]


def test_msg_folder_is_not_empty():
    assert MSG_NAMES, 'msg/ holds no .msg files'


@pytest.mark.parametrize('name', MSG_NAMES)
def test_install_space_has_current_definition(install_space, name):
    installed = install_space / 'share' / 'ladon_ros' / 'msg' / f'{name}.msg'
    assert installed.is_file(), f'{name}.msg was not built: run `make setup`'
    assert installed.read_text() == (ROOT / 'msg' / f'{name}.msg').read_text(), \
        f'{name}.msg changed since the last colcon build: run `make setup`'


def _value(slot_type, depth: int = 0):
    """A non-default value for one rosidl slot type (so a dropped field shows up)."""
    from rosidl_parser import definition as d
    if isinstance(slot_type, d.BasicType):
        t = slot_type.typename
        if t == 'boolean':
            return True
        if t in ('float', 'double'):
            return 1.5 + depth  # exact in float32
        if t in ('char', 'octet'):
            return b'\x07' if t == 'octet' else 'x'
        return 7 + depth  # integer types
    if isinstance(slot_type, (d.UnboundedString, d.BoundedString)):
        return f'value{depth}'
    if isinstance(slot_type, d.NamespacedType):
        module = __import__('.'.join(slot_type.namespaces), fromlist=[slot_type.name])
        return _filled(getattr(module, slot_type.name), depth + 1)
    if isinstance(slot_type, d.AbstractNestedType):
        n = slot_type.size if isinstance(slot_type, d.Array) else 2
        values = [_value(slot_type.value_type, depth + i) for i in range(n)]
        if isinstance(slot_type.value_type, d.BasicType) and slot_type.value_type.typename == 'uint8':
            return array.array('B', values)
        return values
    raise TypeError(f'unhandled slot type {slot_type!r}')


def _filled(cls, depth: int = 0):
    msg = cls()
    for field, slot_type in zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES):
        setattr(msg, field, _value(slot_type, depth))
    return msg


@pytest.mark.parametrize('name', MSG_NAMES)
def test_message_roundtrips_through_cdr(install_space, name):
    import ladon_ros.msg
    from rclpy.serialization import deserialize_message, serialize_message
    cls = getattr(ladon_ros.msg, name, None)
    assert cls is not None, f'ladon_ros.msg has no {name}: run `make setup`'
    msg = _filled(cls)
    assert msg != cls(), 'every field set: the message must differ from its defaults'
    data = serialize_message(msg)
    assert deserialize_message(data, cls) == msg  # (CDR padding bytes are not compared)


# A field line: type (optionally pkg/Type, array suffix) then name, optional default/constant.
_FIELD = re.compile(r'^[A-Za-z][\w/]*(\[[<=\d]*\])?\s+[A-Za-z]\w*(\s*=.*|\s+\S.*)?$')


def undocumented_fields(text: str) -> list[str]:
    """Fields without a comment: inline, or a comment line that opens their block of fields.

    A block is a run of field lines with no blank line between them; the comment line right
    above the block documents all of them (e.g. '# Codec and rate point' over two fields).
    """
    missing, documented = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            documented = False
        elif line.startswith('#'):
            documented = True
        elif _FIELD.match(line.split('#', 1)[0].strip()):
            if not (documented or '#' in line):
                missing.append(line)
        else:
            raise ValueError(f'unparsed .msg line: {raw!r}')
    return missing


def test_lint_detects_an_undocumented_field():
    assert undocumented_fields('# a\nuint32 a\nuint32 b\n\nuint32 c\nstring d  # inline\n') == ['uint32 c']
    assert undocumented_fields('std_msgs/Header header\n') == ['std_msgs/Header header']


@pytest.mark.parametrize('path', MSG_FILES, ids=MSG_NAMES)
def test_every_field_is_commented(path):
    assert undocumented_fields(path.read_text()) == [], f'{path.name}: comment these fields (units, frames)'
