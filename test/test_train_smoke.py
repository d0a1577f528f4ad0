"""The whole recipe runs end to end on a toy budget and writes loadable, servable checkpoints."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from ladon_ros.camera import make_camera_encoder
from ladon_ros.checkpoint import load_checkpoint
from ladon_ros.codec.bitstream import HEADER_SIZE
from ladon_ros.world import CLASSES, SceneGenerator
from ladon_ros.edge import EdgePerception
from ladon_ros.train.config import load_config
from ladon_ros.train.runner import train

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('tiny')
    cfg = dataclasses.replace(load_config('configs/train/tiny.yaml'), run_dir=str(tmp_path / 'run'),
                              weights_dir=str(tmp_path / 'w'))
    return tmp_path, cfg, train(cfg, betas=(1.0, 4.0))


def test_tiny_recipe_end_to_end_and_resume(trained):
    tmp_path, cfg, summary = trained
    assert {'teacher', 'b1_stage1', 'b4_stage1', 'b4_stage2', 'b4_heads'} <= set(summary)
    # tiny.yaml has stage1_finetune: beta 4 starts from beta 1's stage 1 and runs that stage.
    assert summary['b4_stage1']['steps_done'] == 2 and 'optimizer_aux' in json.loads(
        (tmp_path / 'run' / 'b4_stage1.json').read_text())
    teacher_path, ladon_path = tmp_path / 'w' / 'teacher_small.safetensors', tmp_path / 'w' / 'ladon_small_b4.safetensors'
    ladon, meta = load_checkpoint(ladon_path)
    assert meta.rate_point == 4.0 and meta.classes == CLASSES and 'b4_stage1 2 steps' in meta.notes
    # fp16 storage for everything but the entropy model keeps the files small.
    assert ladon_path.stat().st_size < 3_000_000 and teacher_path.stat().st_size < 3_000_000
    image = SceneGenerator(image_size=(96, 160), seed=9).sample(0).image
    frame = make_camera_encoder(codec='ladon', checkpoint=ladon_path).encode(image)
    result = EdgePerception.from_checkpoints([ladon_path], teacher_path).process(frame)
    assert result.segmentation.shape == (96, 160)
    # The log has every stage; a second run skips everything (finished states are kept).
    stages = {json.loads(s)['stage'] for s in (tmp_path / 'run' / 'losses.jsonl').read_text().splitlines()}
    assert stages == {'teacher', 'b1_stage1', 'b1_stage2', 'b1_heads', 'b1_joint', 'b4_stage1', 'b4_stage2',
                      'b4_heads', 'b4_joint'}
    before = ladon_path.read_bytes()
    again = train(cfg, betas=(4.0,))
    assert again['b4_heads']['steps_done'] == 2 and again['b4_joint']['steps_done'] == 2
    assert ladon_path.read_bytes() == before  # same weights re-exported from the saved states
    assert np.isfinite(summary['b4_stage1']['last_terms']['bpp'])


def test_joint_from_fine_tunes_the_edge_side_and_keeps_the_bitstream(trained):
    tmp_path, cfg, _ = trained
    src = tmp_path / 'w'
    cfg2 = dataclasses.replace(cfg, joint_from=str(src), run_dir=str(tmp_path / 'run_joint'),
                               weights_dir=str(tmp_path / 'w_joint'))
    summary = train(cfg2, stages=('ladon',), betas=(4.0,))
    assert set(summary) == {'b4_joint', 'total_min'} and summary['b4_joint']['steps_done'] == 2
    terms = summary['b4_joint']['last_terms']
    assert {'kd', 'fd', 'seg', 'loss_classifier', 'loss_box_reg'} <= set(terms)
    old, _ = load_checkpoint(src / 'ladon_small_b4.safetensors')
    new, meta = load_checkpoint(tmp_path / 'w_joint' / 'ladon_small_b4.safetensors')
    assert 'b4_joint 2 steps' in meta.notes
    old_sd, new_sd = old.state_dict(), new.state_dict()
    # Encoder and entropy model frozen: the robot's bitstream (and its ONNX bundle) do not change ...
    for k in old_sd:
        if k.startswith(('bottleneck.encoder', 'bottleneck.entropy_bottleneck')):
            assert torch.equal(old_sd[k], new_sd[k]), k
    image = SceneGenerator(image_size=(128, 128), seed=5).sample(0).image
    frames = [make_camera_encoder(codec='ladon', checkpoint=d / 'ladon_small_b4.safetensors').encode(image)
              for d in (src, tmp_path / 'w_joint')]
    # The body is the same; the header names the new weights (the edge serves matching frames only).
    assert frames[0].payload[HEADER_SIZE:] == frames[1].payload[HEADER_SIZE:]
    assert frames[0].payload[:HEADER_SIZE] != frames[1].payload[:HEADER_SIZE]
    # ... while decoder, body and every head moved.
    for part in ('bottleneck.decoder', 'tail.body', 'tail.heads.detection', 'tail.heads.segmentation',
                 'tail.heads.classification'):
        assert any(not torch.equal(old_sd[k], new_sd[k]) for k in old_sd if k.startswith(part)), part
    with pytest.raises(ValueError, match='teacher stage'):
        train(cfg2, stages=('teacher', 'ladon'), betas=(4.0,))


def test_wide_decoder_trains_on_the_frozen_robot_side(trained):
    tmp_path, cfg, _ = trained
    cfg2 = dataclasses.replace(cfg, joint_from=str(tmp_path / 'w'), joint_from_model='ladon_small',
                               ladon_model='ladon_small_wide', decoder_warmup=cfg.joint,
                               run_dir=str(tmp_path / 'run_wide'), weights_dir=str(tmp_path / 'w_wide'))
    summary = train(cfg2, stages=('ladon',), betas=(1.0,))
    assert summary['b1_decoder_warmup']['steps_done'] == 2 and summary['b1_joint']['steps_done'] == 2
    old, _ = load_checkpoint(tmp_path / 'w' / 'ladon_small_b1.safetensors')
    new, meta = load_checkpoint(tmp_path / 'w_wide' / 'ladon_small_wide_b1.safetensors')
    assert meta.model_id == 'ladon_small_wide'
    n_old, n_new = (sum(p.numel() for p in m.bottleneck.decoder.parameters()) for m in (old, new))
    assert n_new > 2.5 * n_old
    image = SceneGenerator(image_size=(128, 128), seed=6).sample(0).image
    a, b = (make_camera_encoder(codec='ladon', checkpoint=p).encode(image)
            for p in (tmp_path / 'w' / 'ladon_small_b1.safetensors',
                      tmp_path / 'w_wide' / 'ladon_small_wide_b1.safetensors'))
    assert a.payload[HEADER_SIZE:] == b.payload[HEADER_SIZE:]  # the same bitstream
    teacher = tmp_path / 'w' / 'teacher_small.safetensors'
    result = EdgePerception.from_checkpoints([tmp_path / 'w_wide' / 'ladon_small_wide_b1.safetensors'],
                                             teacher).process(b)
    assert result.segmentation.shape == (128, 128)
    # Without a decoder_warmup stage a fresh decoder is refused, not trained from noise.
    with pytest.raises(ValueError, match='decoder_warmup'):
        train(dataclasses.replace(cfg2, decoder_warmup=None, run_dir=str(tmp_path / 'run_wide2')),
              stages=('ladon',), betas=(1.0,))


def test_config_extends_a_base(tmp_path):
    from ladon_ros.config import ConfigError
    (tmp_path / 'base.yaml').write_text(open('configs/train/tiny.yaml').read())
    (tmp_path / 'top.yaml').write_text('extends: base.yaml\nbatch_size: 3\njoint: {steps: 5, lr: 0.001}\n')
    cfg = load_config(tmp_path / 'top.yaml')
    assert cfg.batch_size == 3 and cfg.joint.steps == 5 and cfg.betas == (1.0, 4.0, 16.0)
    (tmp_path / 'loop.yaml').write_text('extends: loop.yaml\n')
    with pytest.raises(ConfigError, match='loop'):
        load_config(tmp_path / 'loop.yaml')
    assert load_config('configs/train/small_wide.yaml').ladon_model == 'ladon_small_wide'


def test_eval_cli_writes_the_issue_json_plot_and_table(trained):
    from ladon_ros.cli import main
    tmp_path = trained[0]
    out = tmp_path / 'eval'
    assert main(['eval', '--quick', '--scenes', '2', '--weights-dir', str(tmp_path / 'w'), '--json',
                 str(out / 'rows.json'), '--out', str(out)]) == 0
    rows = json.loads((out / 'rows.json').read_text())
    assert set(rows) == {'classification', 'detection', 'segmentation'}
    codecs = {r['codec'] for r in rows['segmentation']}
    assert codecs == {'teacher', 'ladon', 'jpeg', 'webp', 'png'}
    ladon = [r for r in rows['classification'] if r['codec'] == 'ladon']
    assert {r['setting'] for r in ladon} == {1.0, 4.0}
    assert all(30 < r['bytes_per_frame'] < 128 * 128 * 3 for r in ladon)
    assert (out / 'rate_accuracy.png').stat().st_size > 1000
    assert '| teacher |' in (out / 'table.md').read_text()
    tgt = json.loads((out / 'targets.json').read_text())
    assert set(tgt['bytes_vs_webp']) == set(tgt['bytes_vs_jpeg']) == {'1.0', '4.0'}
    assert 'Ladon rows: `ladon_small`' in (out / 'table.md').read_text()
    # One model per study (its rows are keyed by rate point): a model the folder lacks is refused.
    assert main(['eval', '--quick', '--scenes', '2', '--weights-dir', str(tmp_path / 'w'), '--model',
                 'ladon_small_wide', '--out', str(out)]) == 2
    from ladon_ros.eval.study import Study
    b1 = tmp_path / 'w' / 'ladon_small_b1.safetensors'
    with pytest.raises(ValueError, match='rate point 1.0 twice'):
        Study(ladon=[b1, b1], teacher=tmp_path / 'w' / 'teacher_small.safetensors', scenes=1, seed=0)
    assert 'Ladon bytes / WebP bytes' in (out / 'table.md').read_text()


def test_eval_diagnose_measures_each_path(trained, capsys):
    from ladon_ros.cli import main
    tmp_path = trained[0]
    out = tmp_path / 'diag'
    assert main(['eval', '--diagnose', '--scenes', '2', '--weights-dir', str(tmp_path / 'w'), '--out', str(out)]) == 0
    table = (out / 'diagnose.md').read_text()
    for beta in ('1', '4'):
        for path in ('wire', 'unrounded', 'teacher_tail'):
            assert f'| {path} | {beta} |' in table
    assert '| teacher, raw frames | - |' in table and table in capsys.readouterr().out
