"""Runs the rate-accuracy study on held-out generated scenes.

Every configuration goes through the real wire path: the camera-side encoder
(``ladon_ros.camera``) makes a ``WireFrame`` whose payload (bitstream header included)
is what is counted, and ``EdgePerception.prepare`` validates and decodes it. The heads
then run batched on the decoded tensors.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ladon_ros.camera import ImageCameraEncoder, LadonCameraEncoder
from ladon_ros.checkpoint import CheckpointMeta, load_checkpoint
from ladon_ros.world import Scene, SceneGenerator
from ladon_ros.edge import EdgePerception
from ladon_ros.eval.metrics import ConfusionIoU, box_map, top1

HELDOUT_SEED_BASE = 1_000_000  # held-out worlds: seed = base + N (training uses small seeds)
EVAL_SCORE_THRESH = 0.01  # low threshold for mAP (the demo threshold is the spec's)
EVAL_MAX_DETS = 100

QUICK = {'scenes': 96, 'jpeg': (1, 3, 5, 10, 20, 40, 70, 90), 'webp': (1, 5, 20, 50, 80), 'png': (9,)}
FULL = {'scenes': 240, 'jpeg': (1, 2, 3, 5, 10, 15, 20, 30, 50, 70, 90), 'webp': (1, 5, 10, 20, 50, 80),
        'png': (9,)}


@dataclass
class ConfigResult:
    """Metrics of one configuration (codec at one setting) on the held-out set."""

    codec: str
    setting: float | int | None
    bytes_per_frame: float
    top1: float
    map: float
    map50: float
    miou: float
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def heldout_scenes(n: int, image_size: tuple[int, int], seed: int) -> list[Scene]:
    """``n`` held-out scenes of world ``HELDOUT_SEED_BASE + seed``."""
    gen = SceneGenerator(image_size=image_size, seed=HELDOUT_SEED_BASE + int(seed))
    return [gen.sample(i) for i in range(n)]


def _engine_infer(model):
    """``list of per-frame inputs -> TaskOutputs`` (torch tensors) of an ``EdgeModel`` (all heads)."""
    from ladon_ros.edge.backend import HEADS, StageTimes
    from ladon_ros.models.ladon import TaskOutputs

    def infer(inputs: list) -> TaskOutputs:
        outs = model.run(inputs, [frozenset(HEADS)] * len(inputs), StageTimes())
        return TaskOutputs(
            classification=torch.from_numpy(np.concatenate([o.classification for o in outs])),
            detection=[{k: torch.from_numpy(np.asarray(v)) for k, v in o.detection[0].items()} for o in outs],
            segmentation=torch.from_numpy(np.concatenate([o.segmentation for o in outs])))
    return infer


def _for_eval(model: torch.nn.Module, proposals: int | None = None) -> torch.nn.Module:
    rh = model.tail.heads.detection.roi_heads
    rh.score_thresh, rh.detections_per_img = EVAL_SCORE_THRESH, EVAL_MAX_DETS
    if proposals is not None:
        rpn = model.tail.heads.detection.rpn
        rpn._pre_nms_top_n['testing'] = rpn._post_nms_top_n['testing'] = int(proposals)
    return model.eval()


class Study:
    """Loaded models and the held-out set; ``run(codec, setting)`` measures one configuration.

    Args:
        ladon: ``[(path, ...)]`` Ladon checkpoints (one per rate point).
        teacher: Teacher checkpoint.
        scenes: Number of held-out scenes.
        seed: Held-out world number.
        batch: Frames per head batch.
        dataset: A COCO-format set to evaluate on instead of the held-out world
            (``ladon_ros.eval.dataset``); tasks it does not label measure NaN.
        engine: The edge's engine: ``'torch'``, or ``'onnx'`` / ``'onnx-int8'`` (edge bundles
            exported for this study with the evaluation's detection thresholds; the camera
            side stays torch, so the bytes are the same).
        proposals: RPN proposals kept per image at test time (default: the spec's
            ``rpn_post_nms_test``); the detection head's cost scales with it.
    """

    def __init__(self, *, ladon: list[Path], teacher: Path, scenes: int, seed: int, batch: int = 16,
                 dataset: str | Path | None = None, engine: str = 'torch', proposals: int | None = None):
        self.teacher, self.teacher_meta = load_checkpoint(teacher)
        self.proposals = proposals
        _for_eval(self.teacher, proposals)
        self.ladon: dict[float, tuple[torch.nn.Module, CheckpointMeta]] = {}
        for p in ladon:
            model, meta = load_checkpoint(p)
            if meta.rate_point in self.ladon:  # rows are keyed by rate point: one model per study
                raise ValueError(f'{p}: rate point {meta.rate_point} twice ({self.ladon[meta.rate_point][1].model_id} '
                                 f'and {meta.model_id}); study one model at a time')
            self.ladon[meta.rate_point] = (_for_eval(model, proposals), meta)
        self.classes = self.teacher_meta.classes
        self.input_size = tuple(self.teacher_meta.input_size)
        self.engine, self.onnx = engine, {}
        if engine == 'torch':
            self.edge = EdgePerception(list(self.ladon.values()), (self.teacher, self.teacher_meta))
        else:
            self._export_bundles([*ladon, teacher], int8=engine == 'onnx-int8')
            self.edge = EdgePerception([m for k, m in self.onnx.items() if k != 'teacher'], self.onnx['teacher'],
                                       decode_timeout_ms=1e9)
        if dataset is None:
            self.scenes = heldout_scenes(scenes, self.input_size, seed)
        else:
            from ladon_ros.eval.dataset import coco_scenes
            self.scenes = coco_scenes(dataset, self.classes, self.input_size, limit=scenes)
        self.batch = batch

    def _export_bundles(self, paths: list[Path], int8: bool) -> None:
        import tempfile

        from ladon_ros.edge.onnx_backend import OnnxEdgeModel
        from ladon_ros.export.edge_bundle import export_edge_bundle
        self._bundles = tempfile.TemporaryDirectory(prefix='eval_edge_')
        for p in paths:
            folder = Path(self._bundles.name) / Path(p).stem
            export_edge_bundle(p, folder, int8=int8, score_thresh=EVAL_SCORE_THRESH, max_detections=EVAL_MAX_DETS,
                               proposals=self.proposals)
            model = OnnxEdgeModel(folder, int8=int8)
            self.onnx['teacher' if model.meta.kind == 'teacher' else model.meta.rate_point] = model

    def encoder(self, codec: str, setting):
        """The camera-side encoder of one configuration."""
        if codec == 'ladon':
            model, meta = self.ladon[setting]
            return LadonCameraEncoder.from_model(model, meta)
        if codec == 'teacher':
            return ImageCameraEncoder('raw', 0, self.input_size)
        return ImageCameraEncoder(codec, int(setting), self.input_size)

    @torch.no_grad()
    def run(self, codec: str, setting=None) -> ConfigResult:
        """Encodes, sends (bytes counted), decodes and evaluates every held-out scene."""
        t0 = time.perf_counter()
        enc = self.encoder(codec, setting)
        tail = self.ladon[setting][0].tail if codec == 'ladon' else None
        nbytes: list[int] = []

        def features(chunk: list[Scene]) -> torch.Tensor:
            tensors = []
            for s in chunk:
                frame = enc.encode(s.image)
                nbytes.append(len(frame.payload))
                tensors.append(self.edge.prepare(frame).tensor)
            return torch.cat(tensors)

        infer = tail.infer if tail is not None else self.teacher.infer
        if self.engine != 'torch':
            model = self.onnx[setting if codec == 'ladon' else 'teacher']

            def features(chunk: list[Scene]) -> list:  # noqa: F811 - the engine's own arrays
                out = []
                for s in chunk:
                    frame = enc.encode(s.image)
                    nbytes.append(len(frame.payload))
                    out.append(self.edge.prepare(frame).tensor)
                return out
            infer = _engine_infer(model)
        r = self.measure(features, infer, codec, setting)
        r.bytes_per_frame, r.seconds = float(np.mean(nbytes)), time.perf_counter() - t0
        return r

    @torch.no_grad()
    def measure(self, features, infer, codec: str, setting=None) -> ConfigResult:
        """The metrics of ``infer(features(batch of scenes))`` over the held-out set.

        Args:
            features: ``list[Scene] -> tensor`` that ``infer`` takes (decoded frames, or
                features made another way, e.g. for the diagnostics of ``eval.diagnose``).
            infer: ``tensor -> TaskOutputs``.
            codec: Name of the configuration (bytes are left 0 for the caller to fill).
            setting: Its setting.
        """
        cls_pred, gt, det = [], [], []
        iou = ConfusionIoU(len(self.classes.segmentation))
        for i0 in range(0, len(self.scenes), self.batch):
            chunk = self.scenes[i0:i0 + self.batch]
            out = infer(features(chunk))
            cls_pred.append(out.classification.argmax(1).cpu().numpy())
            for j, s in enumerate(chunk):
                d = out.detection[j]
                det.append((d['boxes'].cpu().numpy(), d['labels'].cpu().numpy(), d['scores'].cpu().numpy()))
                gt.append((s.boxes, s.box_labels))
                if s.seg is not None:
                    iou.add(out.segmentation[j].cpu().numpy(), s.seg)
        truth = np.array([s.scene_class for s in self.scenes])
        # A dataset without scene labels (-1) or masks (None) cannot measure those tasks.
        acc = top1(np.concatenate(cls_pred), truth) if (truth >= 0).all() else float('nan')
        miou = iou.miou() if all(s.seg is not None for s in self.scenes) else float('nan')
        m = box_map(gt, det, len(self.classes.detection))
        return ConfigResult(codec, setting, 0.0, acc, m['map'], m['map50'], miou)


def configurations(study: Study, grid: dict) -> list[tuple[str, object]]:
    """(codec, setting) pairs: teacher, every Ladon rate point, then the image codecs."""
    confs: list[tuple[str, object]] = [('teacher', None)]
    confs += [('ladon', rp) for rp in sorted(study.ladon)]
    for codec in ('jpeg', 'webp', 'png'):
        confs += [(codec, q) for q in grid[codec]]
    return confs


def run_study(study: Study, grid: dict, progress: bool = True) -> list[ConfigResult]:
    """Runs every configuration."""
    confs = configurations(study, grid)
    out = []
    for codec, setting in tqdm(confs, desc='eval', disable=not progress, mininterval=2.0):
        out.append(study.run(codec, setting))
    return out
