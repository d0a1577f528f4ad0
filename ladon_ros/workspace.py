"""The ROS environment of the package's node processes, however ``ladon-ros`` was started.

The nodes import the generated ``ladon_ros.msg``, which colcon builds into the install space
(``install/ladon_ros`` of the checkout), not into the source tree that ``pip install -e``
links. ``source scripts/env.sh`` puts it on the paths; a command started without it
(``.venv/bin/ladon-ros bench-link``) used to start nodes that died with "No module named
'ladon_ros.msg'". ``ensure_ros_environment`` gives this process and every child it starts the
same variables env.sh sets, derived from the install space, or refuses with the one line that
fixes it. No ROS import here: it runs before any.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

PACKAGE = 'ladon_ros'
ROOT_VAR = 'LADON_ROS_ROOT'
FIX = 'run `make setup` in the checkout, then `source scripts/env.sh` (or source your ROS workspace)'


class RosEnvironmentError(RuntimeError):
    """The generated messages are neither importable nor built in an install space found here."""


def _site(prefix: Path) -> Path:
    return prefix / 'lib' / f'python{sys.version_info.major}.{sys.version_info.minor}' / 'site-packages'


def checkout_root() -> Path:
    """The checkout this package runs from: ``$LADON_ROS_ROOT``, else the source tree's parent."""
    return Path(os.environ.get(ROOT_VAR) or Path(__file__).resolve().parents[1])


def install_space(root: Path | None = None) -> Path | None:
    """``<root>/install/ladon_ros`` when it holds the generated messages, else None."""
    prefix = (root or checkout_root()) / 'install' / PACKAGE
    return prefix if (_site(prefix) / PACKAGE / 'msg' / '__init__.py').is_file() else None


def _prepend(value: str, *paths: str) -> str:
    parts = [p for p in value.split(os.pathsep) if p] if value else []
    return os.pathsep.join([p for p in paths if p not in parts] + parts)


def workspace_env(prefix: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables ``scripts/env.sh`` sets, for the install space ``prefix`` of a checkout.

    Args:
        prefix: ``<checkout>/install/ladon_ros``.
        environ: The environment they extend (default ``os.environ``).

    Returns:
        ``PATH``, ``PYTHONPATH`` (source tree first, then the install space),
        ``LD_LIBRARY_PATH`` (the generated typesupport libraries), ``AMENT_PREFIX_PATH``,
        ``CMAKE_PREFIX_PATH`` and ``LADON_ROS_ROOT``.
    """
    environ = os.environ if environ is None else environ
    root, venv = prefix.parents[1], Path(sys.prefix)
    return {
        'PATH': _prepend(environ.get('PATH', ''), str(venv / 'bin')),
        'PYTHONPATH': _prepend(environ.get('PYTHONPATH', ''), str(root), str(_site(prefix))),
        'LD_LIBRARY_PATH': _prepend(environ.get('LD_LIBRARY_PATH', ''), str(prefix / 'lib'), str(venv / 'lib')),
        'AMENT_PREFIX_PATH': _prepend(environ.get('AMENT_PREFIX_PATH', ''), str(prefix), str(venv)),
        'CMAKE_PREFIX_PATH': _prepend(environ.get('CMAKE_PREFIX_PATH', ''), str(venv)),
        ROOT_VAR: str(root),
    }


def messages_importable() -> bool:
    """True when ``ladon_ros.msg`` is importable in this process."""
    try:
        return importlib.util.find_spec(f'{PACKAGE}.msg') is not None
    except (ImportError, ValueError):
        return False


def ensure_ros_environment(command: str = 'ladon-ros') -> None:
    """Makes ``ladon_ros.msg`` importable here and in every child process, or refuses.

    When it is importable already (env.sh sourced, a ROS workspace sourced) nothing changes.
    Otherwise the checkout's install space is applied: ``os.environ`` (inherited by the node
    processes) as env.sh would set it, and, for this process, ``sys.path``, the package's
    ``__path__`` and the generated typesupport libraries (the loader read ``LD_LIBRARY_PATH``
    at start, and rosidl opens them by bare name, so they are preloaded by full path).

    Raises:
        RosEnvironmentError: No install space with the generated messages: the message says
            ``command`` cannot start nodes and what fixes it, in one line.
    """
    if messages_importable():
        return
    prefix = install_space()
    if prefix is None:
        raise RosEnvironmentError(
            f'{command}: the generated messages (ladon_ros.msg) are not built or not on the path, so its '
            f'nodes cannot start: {FIX}')
    os.environ.update(workspace_env(prefix))
    for path in (str(_site(prefix)), str(prefix.parents[1])):  # the source tree ends up first, as in env.sh
        if path not in sys.path:
            sys.path.insert(0, path)
    package = sys.modules.get(PACKAGE)
    site_pkg = str(_site(prefix) / PACKAGE)
    if package is not None and site_pkg not in package.__path__:
        package.__path__.append(site_pkg)
    for lib in sorted((prefix / 'lib').glob(f'lib{PACKAGE}__*.so')):
        try:
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
        except OSError as err:  # a ROS library it links to is not on this process's loader path
            raise RosEnvironmentError(f'{command}: cannot load {lib.name} ({err}): {FIX}') from None
    importlib.invalidate_caches()
    if not messages_importable():
        raise RosEnvironmentError(f'{command}: {prefix} holds no importable ladon_ros.msg: {FIX}')
