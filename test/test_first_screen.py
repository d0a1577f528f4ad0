"""A newcomer's first screen is the package's own output: no FutureWarning from importing it.

torch 2.14 warns (FutureWarning) on every ``torch.jit.script`` call, and ``torch_geometric``,
which compressai's package ``__init__`` imports, makes two at import. Every process that
loaded a Ladon model on torch (a torch-backed edge, train, eval) printed it first. The
runtime modules (nodes, CLI, demo, benchmarks' parents) and a model loaded on torch are
imported here in a fresh interpreter with FutureWarning an error. (The demo's own processes
run with it as an error too: test_ros_demo.py.)
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

RUNTIME = ('ladon_ros.cli', 'ladon_ros.ros.tools.demo', 'ladon_ros.ros.tools.fleet_demo', 'ladon_ros.ros.image_source_node',
           'ladon_ros.ros.camera_encoder_node', 'ladon_ros.ros.edge_perception_node', 'ladon_ros.ros.rate_adapter_node',
           'ladon_bench.link.harness', 'ladon_bench.fleet.harness')


def test_runtime_and_a_torch_model_import_without_future_warning():
    code = textwrap.dedent(f'''
        import importlib
        for name in {RUNTIME!r}:
            importlib.import_module(name)
        from ladon_ros.cli import build_parser
        build_parser()
        from ladon_ros.checkpoint import load_checkpoint
        from ladon_ros.weights import default_checkpoint
        load_checkpoint(str(default_checkpoint('ladon')))  # the model on torch: imports compressai
        import sys
        assert 'compressai' in sys.modules
        print('ok')
    ''')
    out = subprocess.run([sys.executable, '-W', 'error::FutureWarning', '-c', code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == 'ok', out.stderr[-3000:]
    assert 'Warning' not in out.stderr, out.stderr[-3000:]
