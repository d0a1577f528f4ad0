"""The JSON index of an exported bundle (``camera.json``, ``edge.json``): found, parsed, format-checked.

Both sides' bundle readers start here, so a missing or foreign index fails the same way;
each then checks its own fields. No torch, no ROS.
"""
from __future__ import annotations

import json
from pathlib import Path


def read_index(folder: str | Path, name: str, fmt: str, export_hint: str) -> dict:
    """``folder/name`` as a dict whose ``format`` is ``fmt``.

    Args:
        folder: The bundle folder.
        name: The index file name (``camera.json``, ``edge.json``).
        fmt: The format tag the reader understands (``ladon_ros.camera/1``, ...).
        export_hint: The command that writes the bundle, for the missing-file message.

    Raises:
        FileNotFoundError: No index in ``folder``.
        ValueError: The index has another format tag.
    """
    path = Path(folder) / name
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found: run `{export_hint}` first')
    info = json.loads(path.read_text())
    if info.get('format') != fmt:
        raise ValueError(f'{path}: format {info.get("format")!r}, expected {fmt!r}')
    return info
