"""The core (all of ladon_ros except ladon_ros.ros) imports and runs with no ROS 2 at all.

A fresh interpreter gets an import hook that refuses rclpy, ROS message packages and the
generated ladon_ros.msg, then imports every core module (each one also first in a forked
process), builds the CLI parser (its subcommands must import ROS lazily) and encodes/decodes
one frame.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Top-level names a pure-Python core must never import (ROS client library, interfaces,
# ROS-only helpers); ladon_ros.msg is the colcon-generated part of this package.
BLOCKED = ('rclpy', 'rcl_interfaces', 'rosidl_runtime_py', 'rosidl_parser', 'builtin_interfaces',
           'std_msgs', 'sensor_msgs', 'diagnostic_msgs', 'geometry_msgs', 'visualization_msgs',
           'cv_bridge', 'launch', 'launch_ros', 'ament_index_python', 'ladon_ros.msg')


def core_modules() -> list[str]:
    """Every module under ladon_ros/ in the source tree, except ladon_ros.ros and __main__."""
    names = []
    for path in sorted((ROOT / 'ladon_ros').rglob('*.py')):
        rel = path.relative_to(ROOT).with_suffix('')
        parts = list(rel.parts)
        if parts[1:2] == ['ros'] or parts[-1] == '__main__':
            continue
        if parts[-1] == '__init__':
            parts.pop()
        names.append('.'.join(parts))
    return names


SCRIPT = textwrap.dedent('''
    import importlib.abc, sys
    BLOCKED = {blocked!r}

    class NoRos(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + '.') for b in BLOCKED):
                raise ModuleNotFoundError(f'{{name}} is blocked: the core must not import ROS', name=name)
            return None

    sys.meta_path.insert(0, NoRos())
    import torch
    torch.set_num_threads(1)
    import numpy as np
    import os, traceback
    import compressai, cv2, torchvision  # heavy third-party imports, shared by the forks

    # Each module first in a fresh process (a fork without ladon_ros loaded): catches
    # import cycles that only break when a module is the first one imported.
    failed = []
    for name in {modules!r}:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        if os.waitpid(pid, 0)[1] != 0:
            failed.append(name)
    assert not failed, f'cannot be imported first in a process: {{failed}}'
    for name in {modules!r}:
        importlib.import_module(name)
    from ladon_ros.cli import build_parser
    build_parser()

    from ladon_ros.camera import make_camera_encoder
    from ladon_ros.checkpoint import save_checkpoint
    from ladon_ros.edge import EdgePerception
    from ladon_ros.models import build_model
    torch.manual_seed(0)
    path = {tmp!r} + '/ladon.safetensors'
    save_checkpoint(build_model('ladon_small').eval(), path, rate_point=1.0)
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    frame = make_camera_encoder(codec='ladon', checkpoint=path).encode(image)
    result = EdgePerception.from_checkpoints([path]).process(frame)
    assert result.segmentation.shape == (48, 64), result.segmentation.shape
    leaked = sorted(m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in BLOCKED))
    assert not leaked, leaked
    print('CORE-OK', len({modules!r}), len(frame.payload))
''')


def test_core_modules_are_found():
    mods = core_modules()
    assert {'ladon_ros', 'ladon_ros.camera', 'ladon_ros.edge', 'ladon_ros.cli'} <= set(mods)
    assert not any(m.startswith('ladon_ros.ros') for m in mods)


def test_core_imports_and_runs_without_ros(tmp_path):
    modules = core_modules()
    script = SCRIPT.format(blocked=BLOCKED, modules=modules, tmp=str(tmp_path))
    proc = subprocess.run([sys.executable, '-c', script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert 'CORE-OK' in proc.stdout


def test_hook_really_blocks_rclpy(tmp_path):
    # Guards the test above: the same hook must make `import rclpy` fail.
    script = SCRIPT.split('import torch')[0].format(blocked=BLOCKED) + 'import rclpy\n'
    proc = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and 'rclpy is blocked' in proc.stderr
