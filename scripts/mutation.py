#!/usr/bin/env python3
"""Mutation testing of the core that guards the wire and the fleet (``make mutation``).

Each module is paired with the fast test files that cover it. For every pair this copies
the working tree's ``ladon_ros/`` and ``test/`` into ``build/mutation/<name>/`` (the checkout
itself is never mutated: other engineers and test runs share it), runs mutmut there and
parses mutmut's result files into one table: kill rate per module and every surviving
mutant with its diff. Mutants listed in ``EQUIVALENT`` (same behaviour as the original, so
no test can kill them) are counted apart; docs/TESTING.md justifies each.

Usage (from the repository root, venv + dev requirements installed)::

    python scripts/mutation.py                 # every module
    python scripts/mutation.py rate fleet      # some of them
    python scripts/mutation.py --report-only   # re-read the last results
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'build' / 'mutation'


@dataclass(frozen=True)
class Group:
    """One module (or a few) and the tests that guard it.

    Attributes:
        name: Short name (command line, table).
        paths: Source files to mutate.
        functions: mutmut mutant-name globs to keep (empty: every function of ``paths``).
        tests: The fast test files run against each mutant.
    """

    name: str
    paths: tuple[str, ...]
    functions: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS = (
    Group('bitstream', ('ladon_ros/codec/bitstream.py',), (),
          ('test/test_core_bitstream.py', 'test/test_core_pipeline.py')),
    # Only the validation part of the edge: field checks, image size, bitstream/model checks,
    # the latent decode's checks (length, symbol range, re-encode).
    Group('edge', ('ladon_ros/edge/perception.py', 'ladon_ros/edge/validation.py', 'ladon_ros/edge/decoders.py',
                   'ladon_ros/codec/latent/decode.py'),
          ('ladon_ros.edge.perception.*prepare__mutmut_*', 'ladon_ros.edge.decoders.*decode__mutmut_*',
           'ladon_ros.edge.validation.x_check_fields__mutmut_*', 'ladon_ros.edge.validation.*check_image_size__mutmut_*',
           'ladon_ros.codec.latent.decode.*__mutmut_*'),
          ('test/test_core_pipeline.py', 'test/test_edge_validation.py')),
    Group('image_to_rgb', ('ladon_ros/ros/conversions.py',), ('ladon_ros.ros.conversions.x_image_to_rgb__mutmut_*',),
          ('test/test_ros_conversions.py', 'test/test_fuzz_camera_images.py', 'test/test_sources.py')),
    Group('results', ('ladon_ros/results.py',), (),
          ('test/test_results_geometry.py', 'test/test_core_pipeline.py')),
    Group('rate_policy', ('ladon_ros/rate/policy.py',), (), ('test/test_link_rate_policy.py',)),
    Group('checkpoint', ('ladon_ros/checkpoint.py',), (),
          ('test/test_core_checkpoint.py', 'test/test_security_checkpoints.py')),
    Group('fleet', ('ladon_ros/fleet/assignment.py', 'ladon_ros/fleet/membership.py', 'ladon_ros/fleet/peers.py'), (),
          ('test/test_fleet_core.py', 'test/test_fleet_core_rules.py')),
)

# Mutants that behave exactly like the original. Matched by module and by a substring of the
# mutated line (mutant numbers shift whenever the source changes, the code does not).
# (group, function name, text of the mutated line, why) -- docs/TESTING.md explains each.
EQUIVALENT: tuple[tuple[str, str, str, str], ...] = (
    ('bitstream', 'parse', "cast('b')",
     'a signed-byte view unpacks the same header (struct reads the buffer) and tobytes() copies the same bytes'),
    ('bitstream', 'parse', "len(view) <= HEADER_SIZE + body_len else",
     'only reached when the lengths differ, so < and <= agree'),
    ('bitstream', 'parse', 'weights, )',
     "version defaults to BITSTREAM_VERSION, the only version parse lets through"),
    ('results', 'to_frame_results', '(lab.shape != (mh, mw)) or True',
     'a nearest-neighbour resize to the same size returns the same labels'),
    ('rate_policy', 'RatePolicy._estimate_capacity', 'obs.sent_rate_hz >= 0 and',
     'with sent_rate_hz == 0 the second condition (arrival < 0) is false anyway'),
    ('rate_policy', 'RatePolicy._skip_for', 'ratio > self.cfg.max_skip else',
     'at ratio == max_skip both branches give max_skip (ceil of an integer)'),
    ('rate_policy', 'RatePolicy.update', 'self.blind(None)', 'blind() does not use its time argument'),
    ('rate_policy', 'RatePolicy.update', 'obs.arrival_rate_hz < 0 and obs.bytes_per_s <= 0',
     'no arrivals and no bytes: the capacity estimate is nan, so update goes blind one line later'),
    ('rate_policy', 'RatePolicy.update', 'obs.arrival_rate_hz <= 0 and obs.bytes_per_s < 0',
     'no arrivals and no bytes: the capacity estimate is nan, so update goes blind one line later'),
    ('rate_policy', 'RatePolicy.update', '(1 if (over) or True else 0)',
     'the branch runs when over or best > index; without over, best >= index + 1 already'),
    ('rate_policy', 'RatePolicy.update', '(1 if over else 1)',
     'the branch runs when over or best > index; without over, best >= index + 1 already'),
    ('checkpoint', 'load_checkpoint', 'device=None)', 'safetensors loads to the CPU either way; the edge runs on the CPU here'),
    ('checkpoint', 'load_checkpoint', 'load_file(str(path), )', 'safetensors loads to the CPU either way'),
    ('checkpoint', 'load_checkpoint', 'model.to(None)', '.to(None) is a no-op'),
    ('checkpoint', 'load_checkpoint', 'model.load_state_dict(state, )', 'strict=True is the default'),
    ('checkpoint', 'load_checkpoint', "if meta.kind == 'XXladonXX':",
     'load_state_dict restored the stored tables; update() without force keeps them, so skipping it changes nothing'),
    ('checkpoint', 'load_checkpoint', "if meta.kind == 'LADON':",
     'load_state_dict restored the stored tables; update() without force keeps them, so skipping it changes nothing'),
    ('fleet', 'score', 'int.from_bytes(digest, )', "byteorder defaults to 'big' (Python >= 3.11)"),
    ('fleet', 'RobotDirectory.__post_init__', "float('INF')", "float() reads 'INF' as infinity too"),
    ('fleet', 'StandbyPolicy.observe', 'self.seen_serving = now_serving',
     'the loss is computed before the update and a loss promotes for good, so forgetting earlier edges never '
     'changes a decision'),
    ('checkpoint', 'weights_hash', 'if (t.numel()) or True else',
     "an empty tensor's bytes are b'' as well"),
)

# mutmut's exit-code classes (mutmut/stats.py); a timed-out or crashed mutant counts as killed.
KILLED = {1: 'killed', 3: 'killed', 24: 'timeout', -24: 'timeout', 152: 'timeout', 255: 'timeout', 36: 'timeout',
          -11: 'segfault', -9: 'segfault'}
OTHER = {0: 'survived', 5: 'no tests', 33: 'no tests', 34: 'skipped', 35: 'suspicious', 37: 'type check',
         None: 'not checked'}


def _install_overlay(target: Path) -> None:
    """``target`` mirrors the colcon install space but holds only the generated ``ladon_ros`` files.

    The install space also carries a copy of the package's Python sources, and
    ``ladon_ros/__init__.py`` extends the package over every ``ladon_ros`` folder on the path:
    a module that moved in the source tree since the last colcon build would otherwise be
    imported, stale, from there.
    """
    src = ROOT / 'install' / 'ladon_ros'
    site = Path('lib') / 'python3.11' / 'site-packages' / 'ladon_ros'
    for entry in src.iterdir():
        if entry.name != 'lib':
            (target / entry.name).parent.mkdir(parents=True, exist_ok=True)
            (target / entry.name).symlink_to(entry)
    for entry in (src / 'lib').iterdir():
        if entry.name != 'python3.11':
            (target / 'lib').mkdir(parents=True, exist_ok=True)
            (target / 'lib' / entry.name).symlink_to(entry)
    (target / site).mkdir(parents=True)
    for entry in (src / site).iterdir():
        generated = entry.name == 'msg' or entry.suffix in ('.so', '.c')
        if generated:
            (target / site / entry.name).symlink_to(entry)


def _copy_tests(dest: Path, rev: str | None) -> None:
    """test/ of the working tree, or of git revision ``rev`` (for a 'before' measurement)."""
    if rev is None:
        shutil.copytree(ROOT / 'test', dest, ignore=shutil.ignore_patterns('__pycache__', '*.pyc', '.hypothesis'))
        return
    dest.mkdir(parents=True)
    archive = subprocess.run(['git', 'archive', rev, 'test'], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '--strip-components=1', '-C', str(dest)], input=archive, check=True)


def prepare(group: Group, tests_rev: str | None = None) -> Path:
    """A fresh scratch copy of the package and the tests with mutmut configured for ``group``."""
    work = OUT / group.name
    if work.exists():
        shutil.rmtree(work)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.hypothesis')
    shutil.copytree(ROOT / 'ladon_ros', work / 'ladon_ros', ignore=ignore)
    _copy_tests(work / 'test', tests_rev)
    shutil.copytree(ROOT / 'config', work / 'config', ignore=ignore)
    (work / 'scripts').mkdir()
    shutil.copy2(ROOT / 'scripts' / 'env.sh', work / 'scripts' / 'env.sh')
    # mutmut runs the tests in work/mutants/; test/conftest.py sources scripts/env.sh from
    # there, which finds the venv and the colcon install space (ladon_ros.msg) next to it.
    (work / 'mutants').mkdir()
    (work / 'mutants' / '.venv').symlink_to(ROOT / '.venv')
    _install_overlay(work / 'mutants' / 'install' / 'ladon_ros')
    missing = [t for t in group.tests if not (work / t).exists()]
    if missing:
        print(f'  (not there yet, skipped: {", ".join(missing)})', flush=True)
    tests = '\n    '.join(t for t in group.tests if t not in missing)
    only = '\n    '.join(group.paths)
    (work / 'setup.cfg').write_text((ROOT / 'setup.cfg').read_text() + f"""
[mutmut]
source_paths = ladon_ros
only_mutate =
    {only}
also_copy =
    scripts
    config
pytest_add_cli_args_test_selection =
    {tests}
pytest_add_cli_args =
    -p
    no:randomly
    -p
    no:cacheprovider
    -q
use_git_change_detection = false
""")
    return work


def run_group(group: Group, jobs: int, tests_rev: str | None = None) -> float:
    """Runs mutmut for ``group``; returns the wall time [s]."""
    work = prepare(group, tests_rev)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}  # never the checkout's sources
    env['PATH'] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    mutmut = ROOT / '.venv' / 'bin' / 'mutmut'
    t0 = time.monotonic()
    with open(work / 'mutmut.log', 'w') as log:
        proc = subprocess.run([str(mutmut), 'run', '--max-children', str(jobs), *group.functions],
                              cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - t0
    (work / 'elapsed_s').write_text(f'{elapsed:.1f}\n')
    if proc.returncode != 0:
        tail = (work / 'mutmut.log').read_text(errors='replace')[-3000:]
        print(f'mutmut failed for {group.name} (exit {proc.returncode}); end of {work}/mutmut.log:\n{tail}',
              file=sys.stderr)
    return elapsed


def mutant_diff(work: Path, path: str, key: str) -> str:
    """mutmut's unified diff of one mutant (original vs mutated function, with context)."""
    import mutmut.configuration
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    cwd = os.getcwd()
    os.chdir(work)  # mutmut reads its config and the mutants from the current folder
    try:
        mutmut.configuration._config = None  # each group has its own setup.cfg
        out = get_diff_for_mutant(key, path=path)
    finally:
        os.chdir(cwd)
    return '\n'.join(ln for ln in out.splitlines() if not ln.startswith(('---', '+++', '@@')))


def changed_lines(diff: str) -> str:
    return '\n'.join(ln for ln in diff.splitlines() if ln[:1] in '+-')


# A rejection carries a machine-readable reason (counted, asserted by the tests) and a detail text
# for people. A mutant that keeps the reason and only rewrites, drops or blanks the detail text
# (or its ``from None``) changes no behaviour on the wire; these are counted apart ('message').
_RAISE = re.compile(r"raise (FrameRejected|BitstreamError)\((?P<reason>'[a-z_]+'|[a-z_]+),")
_STRING_LINE = re.compile(r"""^[rbfu]*['"]""")


def message_only(diff: str) -> bool:
    """True if the mutant only touches the detail text of a ``FrameRejected``/``BitstreamError``."""
    body = diff.splitlines()
    first = next((i for i, ln in enumerate(body) if ln[:1] in '+-'), None)
    if first is None:
        return False
    minus = [ln[1:].strip() for ln in body if ln.startswith('-')]
    plus = [ln[1:].strip() for ln in body if ln.startswith('+')]
    if minus and (m := _RAISE.match(minus[0])):
        p = _RAISE.match(plus[0]) if plus else None
        return p is not None and p['reason'] == m['reason'] and all(not _RAISE.match(x) for x in minus[1:])
    # Only continuation lines of a message changed: the statement must be such a raise.
    prev = body[first - 1].strip() if first else ''
    return bool(_RAISE.match(prev)) and all(_STRING_LINE.match(x) for x in minus + plus)


def function_of(key: str) -> str:
    """``ladon_ros.rate.policy.xǁRatePolicyǁupdate__mutmut_3`` -> ``RatePolicy.update``."""
    name = key.rpartition('.')[2].partition('__mutmut_')[0]
    if name.startswith('x_'):
        return name[2:]
    return '.'.join(p for p in name.split('ǁ')[1:] if p)


def equivalent_reason(group: Group, key: str, diff: str) -> str | None:
    added = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith('+')]
    for name, func, text, why in EQUIVALENT:
        if name == group.name and func == function_of(key) and any(text in ln for ln in added):
            return why
    return None


def collect(group: Group) -> dict:
    """Counts of one group's last run and its surviving mutants (with diffs)."""
    work = OUT / group.name
    counts: dict[str, int] = {}
    survivors, equivalents, messages = [], [], []
    for path in group.paths:
        meta = work / 'mutants' / (path + '.meta')
        if not meta.exists():
            raise FileNotFoundError(f'{meta} missing: run mutmut for {group.name} first')
        codes = json.loads(meta.read_text())['exit_code_by_key']
        for key, code in sorted(codes.items(), key=lambda kv: _natural(kv[0])):
            if group.functions and not any(fnmatch.fnmatchcase(key, g) for g in group.functions):
                continue
            status = KILLED.get(code) or OTHER.get(code, 'suspicious')
            if status in KILLED.values():
                counts['killed'] = counts.get('killed', 0) + 1
                continue
            full = mutant_diff(work, path, key)
            diff = changed_lines(full)
            why = equivalent_reason(group, key, diff)
            if message_only(full):
                counts['message'] = counts.get('message', 0) + 1
                messages.append((key, diff))
            elif why is not None:
                counts['equivalent'] = counts.get('equivalent', 0) + 1
                equivalents.append((key, diff, why))
            else:
                counts[status] = counts.get(status, 0) + 1
                survivors.append((key, status, diff))
    total = sum(counts.values())
    elapsed = (work / 'elapsed_s').read_text().strip() if (work / 'elapsed_s').exists() else '?'
    return {'group': group, 'counts': counts, 'total': total, 'survivors': survivors,
            'equivalents': equivalents, 'messages': messages, 'elapsed_s': elapsed}


def _natural(key: str):
    head, _, num = key.rpartition('__mutmut_')
    return head, int(num) if num.isdigit() else 0


def kill_rate(r: dict) -> float:
    """Killed share of the mutants that change behaviour (not equivalent, not detail text only)."""
    c = r['counts']
    scored = r['total'] - c.get('equivalent', 0) - c.get('message', 0)
    return 100.0 * c.get('killed', 0) / scored if scored else 100.0


def report(rows: list[dict]) -> str:
    lines = ['| module | mutants | killed | survived | no tests | equivalent | message text | kill rate '
             '| raw kill rate | time [s] |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        c = r['counts']
        raw = 100.0 * c.get('killed', 0) / r['total'] if r['total'] else 100.0
        lines.append(f"| {r['group'].name} | {r['total']} | {c.get('killed', 0)} | {c.get('survived', 0)} | "
                     f"{c.get('no tests', 0)} | {c.get('equivalent', 0)} | {c.get('message', 0)} | "
                     f"{kill_rate(r):.1f} % | {raw:.1f} % | {r['elapsed_s']} |")
    lines += ['', 'kill rate = killed / (mutants - equivalent - message text); raw = killed / mutants.']
    for r in rows:
        if r['survivors']:
            lines += ['', f"## {r['group'].name}: not killed ({len(r['survivors'])})"]
            for key, status, diff in r['survivors']:
                lines += [f'- `{key}` ({function_of(key)}, {status})', '```diff', diff, '```']
        if r['equivalents']:
            lines += ['', f"## {r['group'].name}: equivalent ({len(r['equivalents'])})"]
            for key, diff, why in r['equivalents']:
                lines += [f'- `{key}` ({function_of(key)}): {why}', '```diff', diff, '```']
        if r['messages']:
            lines += ['', f"## {r['group'].name}: detail text only ({len(r['messages'])})",
                      ', '.join(f'`{function_of(k)}`' for k, _ in r['messages'])]
    return '\n'.join(lines) + '\n'


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('groups', nargs='*', help=f'subset of: {" ".join(g.name for g in GROUPS)}')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2, help='mutants run in parallel')
    ap.add_argument('--report-only', action='store_true', help='only re-read the last results')
    ap.add_argument('--tests-rev', metavar='REV',
                    help='take test/ from this git revision (e.g. to measure the tests of an older commit)')
    ap.add_argument('--min-kill-rate', type=float, default=0.0,
                    help='exit 1 when a module kills fewer than this percentage')
    args = ap.parse_args()
    unknown = set(args.groups) - {g.name for g in GROUPS}
    if unknown:
        ap.error(f'unknown module group(s) {sorted(unknown)}')
    groups = [g for g in GROUPS if not args.groups or g.name in args.groups]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / 'COLCON_IGNORE').touch()  # build/ is colcon's: keep it from looking in here
    t0 = time.monotonic()
    if not args.report_only:
        for g in groups:
            print(f'mutmut: {g.name} ({", ".join(g.paths)}) against {", ".join(g.tests)}', flush=True)
            print(f'  {run_group(g, args.jobs, args.tests_rev):.0f} s', flush=True)
    rows = [collect(g) for g in groups]
    text = report(rows)
    if not args.report_only:
        text += f'\nTotal wall time: {time.monotonic() - t0:.0f} s with {args.jobs} parallel mutants.\n'
    (OUT / 'report.md').write_text(text)
    print(text)
    print(f'(written to {OUT / "report.md"})')
    worst = min((kill_rate(r) for r in rows), default=100.0)
    return 1 if worst < args.min_kill_rate else 0


if __name__ == '__main__':
    sys.exit(main())
