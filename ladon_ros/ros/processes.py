"""Start the nodes as separate OS processes talking over real DDS (demo and tests).

Each process runs ``python -m ladon_ros.ros.<node>`` with this interpreter, the caller's
environment (PYTHONPATH / LD_LIBRARY_PATH that find ``ladon_ros.msg``) and the given
``ROS_DOMAIN_ID``, so parallel runs never hear each other, and the fleet Fast DDS profile
(``config/fastdds_fleet.xml``) unless the environment names another.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ladon_ros.config_files import with_fleet_profile

MODULES = {
    'image_source': 'ladon_ros.ros.image_source_node',
    'camera_encoder': 'ladon_ros.ros.camera_encoder_node',
    'edge_perception': 'ladon_ros.ros.edge_perception_node',
    'rate_adapter': 'ladon_ros.ros.rate_adapter_node',
    'robot_camera': 'ladon_ros.ros.robot_camera_node',
}


def node_command(node: str, *, namespace: str = '', params: dict | None = None,
                 params_file: str | Path | None = None, remap: dict[str, str] | None = None) -> list[str]:
    """``python -m <module of node> --ros-args [-r __ns:=ns] [-r from:=to] [--params-file f] -p k:=v ...``.

    Args:
        node: A key of ``MODULES``.
        namespace: Node namespace ('' = the root).
        params: Parameter overrides; values are written in the YAML form rcl parses
            (``ros_arg_value``).
        params_file: A parameters YAML file, applied before ``params``.
        remap: Topic remappings (``{'image_raw': 'image_gated'}``).
    """
    cmd = [sys.executable, '-m', MODULES[node], '--ros-args']
    if namespace:
        cmd += ['-r', f'__ns:={namespace}']
    for src, dst in (remap or {}).items():
        cmd += ['-r', f'{src}:={dst}']
    if params_file:
        cmd += ['--params-file', str(params_file)]
    for k, v in (params or {}).items():
        cmd += ['-p', f'{k}:={ros_arg_value(v)}']
    return cmd


def ros_arg_value(value) -> str:
    """``value`` as the YAML text of a ``-p name:=value`` override.

    Strings stay bare when YAML reads them back as the same string and are single-quoted
    otherwise ('' and text such as ``true`` or ``1.5`` that would change type); list items
    that are strings are always quoted.
    """
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_quoted(v) if isinstance(v, str) else ros_arg_value(v) for v in value) + ']'
    if isinstance(value, str):
        return value if _reads_back(value) else _quoted(value)
    return str(value)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reads_back(text: str) -> bool:
    import yaml
    try:
        return text != '' and yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


class NodeProcesses:
    """A set of node processes; use as a context manager so they always end.

    Args:
        domain_id: ``ROS_DOMAIN_ID`` of every process.
        log_dir: Each process's stdout+stderr goes to ``<log_dir>/<label>.log``.
        env: Extra environment variables.
    """

    def __init__(self, domain_id: int, log_dir: str | Path, env: dict[str, str] | None = None):
        self.env = with_fleet_profile(
            {**os.environ, 'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1', **(env or {})})
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, node: str, *, label: str | None = None, namespace: str = '',
              params: dict | None = None, params_file: str | Path | None = None,
              remap: dict[str, str] | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Starts one node (command line: ``node_command``); ``env`` adds variables for this process."""
        cmd = node_command(node, namespace=namespace, params=params, params_file=params_file, remap=remap)
        return self.start_command(label or node, cmd, env)

    def start_command(self, label: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Starts any command (e.g. a bench node) under the same environment and log rules."""
        log = open(self.log_dir / f'{label}.log', 'w')
        # start_new_session: a Ctrl-C in the terminal goes to the caller, which stops the
        # children in order (stop()), instead of every process racing to exit at once.
        self.procs[label] = subprocess.Popen(cmd, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
        log.close()
        return self.procs[label]

    def kill(self, label: str) -> float:
        """SIGKILL (a crash: no clean shutdown); returns the monotonic time of the kill."""
        t = time.monotonic()
        self.procs[label].kill()
        self.procs[label].wait()
        return t

    def log(self, label: str) -> str:
        """The output so far of process ``label``."""
        return (self.log_dir / f'{label}.log').read_text(errors='replace')

    def alive(self, label: str) -> bool:
        """True while process ``label`` runs."""
        return self.procs[label].poll() is None

    def stop(self, label: str | None = None, timeout: float = 20.0) -> dict[str, int]:
        """SIGINT (clean rclpy shutdown), then SIGKILL after ``timeout`` s; returns exit codes."""
        labels = [label] if label else list(self.procs)
        for name in labels:
            if self.procs[name].poll() is None:
                self.procs[name].send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        codes = {}
        for name in labels:
            p = self.procs[name]
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            codes[name] = p.returncode
        return codes

    def __enter__(self) -> 'NodeProcesses':
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

