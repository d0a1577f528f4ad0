"""The runtime never imports the tools (a static proof over the source, imports inside functions included).

Runtime: what runs on a robot or an edge (the nodes, the camera and edge cores, codecs, rate
control, fleet rules, models, weights, the synthetic world the default camera source draws,
the launch files). Tools: what measures, trains, converts, demonstrates or records: the
benchmark lab ``ladon_bench`` (a sibling package, outside the runtime that colcon installs),
and in ``ladon_ros``: ``eval``, ``reference``, ``train``, ``export``, ``data``, ``cli``,
``workspace``, ``bag`` and ``ros.tools`` (the demos, the bag recorder and player and the
benchmarks' ROS processes, which import rclpy and so live in the ROS layer, in their own
subpackage); the rest of ``ros/`` is the nodes and their glue. docs/CONTRACTS.md, "Layout",
states the same split. Every ``import`` / ``from ... import`` of every runtime module and
launch file is followed through both packages (transitively, relative imports resolved);
reaching a tool module fails with the import chain that leads there.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / 'ladon_ros'
BENCH = ROOT / 'ladon_bench'
TOOLS = ('ladon_bench', 'ladon_ros.eval', 'ladon_ros.reference', 'ladon_ros.train', 'ladon_ros.export',
         'ladon_ros.data', 'ladon_ros.cli', 'ladon_ros.workspace', 'ladon_ros.bag',
         'ladon_ros.ros.tools')
RUNTIME = ('ladon_ros.ros', 'ladon_ros.camera', 'ladon_ros.codec', 'ladon_ros.rate', 'ladon_ros.edge',
           'ladon_ros.fleet', 'ladon_ros.results', 'ladon_ros.models', 'ladon_ros.checkpoint', 'ladon_ros.weights',
           'ladon_ros.config_files', 'ladon_ros.config', 'ladon_ros.bundle_file', 'ladon_ros.errors', 'ladon_ros.world',
           'ladon_ros.sources', 'ladon_ros.tasks', 'ladon_ros.visualize')


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + '.') for p in prefixes)


def module_files() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package and of the benchmark lab."""
    out = {}
    for path in sorted(PKG.rglob('*.py')) + sorted(BENCH.rglob('*.py')):
        parts = list(path.relative_to(ROOT).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts.pop()
        out['.'.join(parts)] = path
    return out


MODULES = module_files()


def imports_of(path: Path, module: str) -> set[str]:
    """The ``ladon_ros`` and ``ladon_bench`` modules ``path`` imports anywhere in its body, with their parent packages.

    ``module`` is the file's dotted name (relative imports resolve against it).
    """
    is_pkg = path.name == '__init__.py'
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = module.split('.') if is_pkg else module.split('.')[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = '.'.join(anchor + ([base] if base else []))
            # ``from pkg import name``: a submodule when one exists, else an attribute of pkg.
            names = [f'{base}.{a.name}' if f'{base}.{a.name}' in MODULES else base for a in node.names]
        for name in names:
            parts = name.split('.')
            found.update('.'.join(parts[:i]) for i in range(1, len(parts) + 1))
    return {n for n in found if n in MODULES}


def tool_chains(start: str, path: Path) -> list[list[str]]:
    """Import chains from ``start`` to a tool module (empty when there is none)."""
    chains, seen = [], set()
    todo = [(start, path, [start])]
    while todo:
        name, file, chain = todo.pop()
        for dep in sorted(imports_of(file, name)):
            if dep in seen or dep == name:
                continue
            seen.add(dep)
            if _under(dep, TOOLS):
                chains.append(chain + [dep])
            else:
                todo.append((dep, MODULES[dep], chain + [dep]))
    return chains


RUNTIME_MODULES = sorted(m for m in MODULES if _under(m, RUNTIME) and not _under(m, TOOLS))
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))


def test_the_layout_is_what_this_test_assumes():
    assert {'ladon_ros.ros.processes', 'ladon_ros.rate.adapter', 'ladon_ros.edge', 'ladon_ros.codec.bitstream',
            'ladon_ros.ros.rate_adapter_node', 'ladon_ros.world', 'ladon_ros.sources',
            'ladon_ros.models.registry'} <= set(RUNTIME_MODULES)
    # Every module is either runtime or a tool (a new top-level module must pick a side).
    unsorted = sorted(m for m in MODULES if m != 'ladon_ros' and not _under(m, RUNTIME + TOOLS))
    # The benchmark lab left the runtime package: colcon installs ladon_ros/ alone for the nodes.
    assert not (PKG / 'bench').exists(), 'the benchmark lab lives in ladon_bench/, outside the runtime package'
    assert 'ladon_bench.link.harness' in MODULES and 'ladon_bench.fleet.harness' in MODULES
    assert not unsorted, f'modules in neither RUNTIME nor TOOLS: {unsorted}'
    assert not (PKG / 'data' / 'synthetic.py').exists(), 'the synthetic world is runtime: ladon_ros/world.py'
    assert 'ladon_ros.ros.tools.bench_nodes' in MODULES and 'ladon_ros.ros.tools.bench_nodes' not in RUNTIME_MODULES
    # ros/ holds the nodes and their glue; the demos, bag processes and benchmark nodes are in ros/tools/.
    for gone in ('demo', 'fleet_demo', 'bag_record', 'bag_play', 'bench_nodes', 'footprint_probe'):
        assert not (PKG / 'ros' / f'{gone}.py').exists(), f'ros/{gone}.py is a tool: it lives in ros/tools/'
    assert all(any(_under(m, (t,)) for m in MODULES) for t in TOOLS), 'a tool package is gone: update TOOLS'
    assert not (PKG / 'link').exists(), 'ladon_ros/link/ was split into rate/ (runtime) and ladon_bench/link/ (tool)'
    assert LAUNCH_FILES


def test_the_checker_sees_imports_inside_functions_and_relative_imports(tmp_path):
    # Guards the proof below: a tool import hidden in a function body must be reported.
    probe = tmp_path / 'probe.py'
    probe.write_text('def f():\n    from ladon_bench.link import harness\n    import ladon_ros.train.loop\n'
                     'from .policy import RatePolicy\n')
    assert imports_of(probe, 'ladon_ros.rate.probe') >= {'ladon_bench.link.harness', 'ladon_ros.train.loop',
                                                         'ladon_ros.rate.policy', 'ladon_bench'}
    assert tool_chains('ladon_ros.rate.probe', probe)


@pytest.mark.parametrize('module', RUNTIME_MODULES)
def test_runtime_module_imports_no_tool(module):
    chains = tool_chains(module, MODULES[module])
    assert not chains, f'{module} reaches tools: ' + '; '.join(' -> '.join(c) for c in chains)


@pytest.mark.parametrize('launch', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_imports_no_tool(launch):
    chains = tool_chains(launch.name, launch)
    assert not chains, f'{launch.name} reaches tools: ' + '; '.join(' -> '.join(c) for c in chains)
