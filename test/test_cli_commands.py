"""The ``ladon-ros`` console script with real arguments, each run as a user runs it (a subprocess).

``models``, ``train`` (tiny recipe into a temporary run/weights folder), ``bench-encoder``,
``bench-link`` (without root: one line saying why, exit 2; with root: one tiny cell over the
shaped veth) and bad arguments (exit 2, one error line that names the argument, no traceback).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ladon_bench.link.netns import our_namespaces, unavailable_reason
from ros_harness import ros_domain

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.prefix) / 'bin' / 'ladon-ros'
SHIPPED_B1 = ROOT / 'ladon_ros' / 'weights' / 'ladon_small_b1.safetensors'
LINK_REASON = unavailable_reason()


def ladon_ros(*args: str, cwd: Path | None = None, prefix: tuple[str, ...] = (), timeout: float = 400.0,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs the installed ``ladon-ros`` console script; output as text, ``.pid`` its process id."""
    with subprocess.Popen([*prefix, str(CLI), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, 'OMP_NUM_THREADS': '1', **(env or {})}) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    done.pid = proc.pid
    return done


def _lines(text: str) -> list[str]:
    # torch prints a FutureWarning (two lines) when the command imports it: not the command's output.
    return [ln for ln in text.splitlines() if ln.strip() and 'FutureWarning' not in ln and 'warnings.warn(' not in ln]


def test_models_lists_the_registry_and_the_shipped_checkpoints():
    from ladon_ros.models import list_models, model_spec
    from ladon_ros.weights import shipped_checkpoints
    out = ladon_ros('models')
    assert out.returncode == 0, out.stderr
    lines = _lines(out.stdout)
    listed = [ln.split()[0] for ln in lines if not ln.startswith('shipped:')]
    assert listed == list_models()
    for name in list_models():
        s = model_spec(name)
        assert f'{name:20s} input {s.input_size[0]}x{s.input_size[1]}  latent {s.latent_shape}' in out.stdout
    shipped = [ln for ln in lines if ln.startswith('shipped:')]
    expected = shipped_checkpoints()
    assert len(shipped) == len(expected) >= 4  # 3 Ladon rate points + the teacher
    for line, (path, meta) in zip(shipped, expected):
        assert line == (f'shipped: {path.name}  model={meta.model_id} rate_point={meta.rate_point} '
                        f'hash={meta.short_hash}')


def test_train_tiny_writes_checkpoints_that_load_with_their_metadata(tmp_path):
    from ladon_ros.checkpoint import load_checkpoint
    from ladon_ros.world import CLASSES
    # cwd = tmp_path: a run that ignored --run-dir/--weights-dir would write runs/tiny/ there, not here.
    out = ladon_ros('train', '--config', str(ROOT / 'configs' / 'train' / 'tiny.yaml'), '--betas', '1',
                    '--run-dir', 'run', '--weights-dir', 'w', cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout[out.stdout.index('\n{\n') + 1:])  # the JSON summary follows the progress lines
    assert {'teacher', 'b1_stage1', 'b1_stage2', 'b1_heads', 'b1_joint'} <= set(summary)
    assert summary['b1_stage1']['steps_done'] == 2  # tiny.yaml: stage1 steps 2
    assert sorted(p.name for p in (tmp_path / 'w').iterdir()) == ['ladon_small_b1.safetensors',
                                                                   'teacher_small.safetensors']
    assert not (tmp_path / 'runs').exists()
    stages = {json.loads(s)['stage'] for s in (tmp_path / 'run' / 'losses.jsonl').read_text().splitlines()}
    assert stages == {'teacher', 'b1_stage1', 'b1_stage2', 'b1_heads', 'b1_joint'}
    model, meta = load_checkpoint(tmp_path / 'w' / 'ladon_small_b1.safetensors', expect_model='ladon_small')
    assert (meta.kind, meta.rate_point, meta.classes, meta.input_size) == ('ladon', 1.0, CLASSES, (128, 128))
    assert 'wrote w/ladon_small_b1.safetensors (' in out.stdout and f'hash {meta.short_hash})' in out.stdout
    assert 'ladon-ros train' in meta.notes and 'tiny.yaml' in meta.notes and 'b1_stage1 2 steps' in meta.notes
    teacher, tmeta = load_checkpoint(tmp_path / 'w' / 'teacher_small.safetensors', expect_model='teacher_small')
    assert tmeta.kind == 'teacher' and tmeta.classes == CLASSES
    assert model.bottleneck is not None and teacher is not None


def test_bench_encoder_writes_its_rows_as_json(tmp_path):
    out = ladon_ros('bench-encoder', '--model', 'ladon_small', '--checkpoint', str(SHIPPED_B1), '--iters', '1',
                    '--no-int8', '--json', str(tmp_path / 'rows.json'), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads((tmp_path / 'rows.json').read_text())
    assert [r['name'] for r in rows] == ['torch_encoder', 'ort_encoder_fp32', 'entropy_coding', 'jpeg_q90',
                                         'camera_total', 'resnet50_local']
    assert all(r['ms_per_frame'] > 0 for r in rows)
    table = {ln.split('|')[1].strip(): float(ln.split('|')[2]) for ln in out.stdout.splitlines()
             if ln.startswith('| ') and ln.split('|')[2].strip()[:1].isdigit()}
    assert table == {r['name']: pytest.approx(r['ms_per_frame'], abs=0.006) for r in rows}  # printed to 2 decimals
    details = json.loads(out.stdout.split('details: ', 1)[1].splitlines()[0])
    assert details['model'] == 'ladon_small' and details['bytes_equal_torch_onnx'] is True
    assert 'int8_symbol_agreement' not in details and 'RANDOM' not in out.stdout  # --no-int8, trained weights


def _not_root() -> tuple[str, ...] | None:
    """Command prefix that runs a child without root: none needed, ``unshare --user``, or None."""
    if os.geteuid() != 0:
        return ()
    if shutil.which('unshare') and subprocess.run(['unshare', '--user', 'true'], capture_output=True).returncode == 0:
        return ('unshare', '--user')  # a new user namespace: euid 65534, no capability on the host
    return None


def test_bench_link_without_root_exits_2_with_one_line_saying_why(tmp_path):
    prefix = _not_root()
    if prefix is None:
        pytest.skip('root, and `unshare --user` cannot drop it here')
    out = ladon_ros('bench-link', '--out', str(tmp_path / 'out'), prefix=prefix, timeout=120)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert _lines(out.stderr) == ['bench-link: cannot run here: needs root (network namespaces, veth and tc '
                                  'need CAP_NET_ADMIN)'] and not out.stdout
    assert not (tmp_path / 'out').exists()


@pytest.mark.netns
@pytest.mark.ros
@pytest.mark.skipif(LINK_REASON is not None, reason=f'bench-link cell: {LINK_REASON}')
def test_bench_link_runs_one_tiny_cell_over_the_shaped_veth(tmp_path):
    out = ladon_ros('bench-link', '--codecs', 'jpeg@75', '--link-mbps', '5', '--no-lossy', '--frames', '5',
                    '--width', '160', '--height', '120', '--no-adaptive', '--camera-process', 'separate,composed',
                    '--domain-id',
                    str(ros_domain('bench_link_cli')), '--out', str(tmp_path), cwd=tmp_path, timeout=500,
                    env={'LADON_ROS_CACHE': str(tmp_path / 'cache')})
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    # Namespaces are named ldn<owner pid>_...: other checkouts' tests may hold theirs meanwhile.
    assert not [n for n in our_namespaces() if n.startswith(f'ldn{out.pid}_')], 'namespaces left behind'
    rows = json.loads((tmp_path / 'link_bench.json').read_text())
    # Each case in each camera layout: image_source + camera_encoder, and robot_camera (one process).
    assert [(r['codec'], r['setting'], r['link_mbps']) for r in rows] == [
        ('jpeg@75', 'clean', 5.0), ('jpeg@75+composed', 'clean', 5.0)]
    for row in rows:
        assert row['frames_served'] > 0 and row['bytes_per_frame'] > 0 and row['latency_p50_ms'] > 0
        assert row['veth_covers_served_bytes'] is True  # the frames crossed the shaped veth
    table = (tmp_path / 'link_table.md').read_text()
    assert '| jpeg@75 | clean | 5 |' in table and '| jpeg@75+composed | clean | 5 |' in table
    assert (tmp_path / 'link_latency_vs_rate.png').stat().st_size > 1000
    probe = json.loads((tmp_path / 'link_publisher_probe.json').read_text())
    assert probe['published'] > 0 and probe['qdisc_backlog_max_bytes'] <= probe['queue_bound_bytes']


@pytest.mark.parametrize('args, names', [
    ((), 'COMMAND'),
    (('nosuchcommand',), 'nosuchcommand'),
    (('train',), '--config'),
    (('train', '--config', '/nonexistent/train.yaml'), '/nonexistent/train.yaml'),
    (('train', '--config', 'configs/train/tiny.yaml', '--betas', 'abc'), 'abc'),
    (('train', '--config', 'configs/train/tiny.yaml', '--stages', 'teacher,dance'), 'dance'),
    (('bench-encoder', '--iters', 'x'), "'x'"),
    (('bench-encoder', '--model', 'nosuch'), 'nosuch'),
    (('bench-link', '--codecs', 'h264'), 'h264'),
    (('bench-link', '--link-mbps', 'fast'), 'fast'),
    (('bench-link', '--camera-process', 'fused'), 'fused'),
    (('export', '--int8'), '--out'),
])
def test_bad_arguments_exit_2_with_one_clear_line(args, names):
    out = ladon_ros(*args, cwd=ROOT, timeout=120)
    lines = _lines(out.stderr)
    assert out.returncode == 2, (out.returncode, out.stdout[-1000:], out.stderr[-2000:])
    assert 'Traceback' not in out.stderr and not out.stdout
    # argparse's usage lines come first; the last line is the error and names the bad argument.
    assert lines and 'error: ' in lines[-1] and names in lines[-1], lines
    assert sum('error' in ln for ln in lines) == 1, lines
