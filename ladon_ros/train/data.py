"""What each training stage reads: the built-in world or the datasets its ``data`` lists.

A stage with no ``data`` draws fresh synthetic scenes every step, exactly as before (same
scenes, same order). A stage with data reads one batch from each of its datasets per step
and trains each batch on the tasks that dataset labels; the stage's datasets together must
label what it trains (``STAGE_NEEDS``). The run's class names come from the teacher's data
(else the teacher checkpoint it starts from, else the synthetic world) and every other
dataset, the run folder and that checkpoint must agree with them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ladon_ros.data.dataset import SceneDataset, collate_scenes
from ladon_ros.data.formats import DataError, LabelledImages, open_dataset
from ladon_ros.data.source import DataSource
from ladon_ros.world import CLASSES as SYNTHETIC_CLASSES
from ladon_ros.tasks import TASKS, TaskClasses

# Per-stage offsets into the endless synthetic world, so no two stages see the same scenes.
_OFFSETS = {'teacher': 0, 'stage1': 10_000_000, 'stage2': 20_000_000, 'heads': 30_000_000,
            'stage1_finetune': 40_000_000, 'joint': 50_000_000, 'decoder_warmup': 60_000_000}
# The labels each stage trains on; stage 1 distils features and stage 2 distils the
# teacher's logits, so they need images only (stage 2 adds a label term where there is one).
STAGE_NEEDS = {'teacher': TASKS, 'stage1': (), 'stage1_finetune': (), 'stage2': (),
               'heads': ('detection', 'segmentation'), 'joint': ('detection', 'segmentation'),
               'decoder_warmup': ()}


@dataclass
class Batch:
    """One dataset's share of a step: normalised images, their targets, the tasks labelled."""

    x: torch.Tensor
    targets: list[dict]
    tasks: tuple[str, ...]


class _Stream:
    """step -> one batch of one dataset: the endless world (fresh scenes), or a finite set in a
    new seeded order every epoch (files are often sorted by time or place; a resumed run gets the
    same batches)."""

    def __init__(self, dataset, batch_size: int, device: torch.device, *, endless: bool, tasks: tuple[str, ...],
                 order_seed: tuple[int, ...] = ()):
        self.ds, self.bs, self.device, self.endless, self.tasks = dataset, batch_size, device, endless, tasks
        self.order_seed = order_seed
        self._orders: dict[int, np.ndarray] = {}  # the current epoch's order only

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng([*self.order_seed, epoch]).permutation(len(self.ds))}
        return self._orders[epoch]

    def __call__(self, step: int) -> Batch:
        n = len(self.ds)
        if self.endless:
            i0 = (step * self.bs) % (n - self.bs)
            idx = list(range(i0, i0 + self.bs))
        else:
            idx = [int(self._order(k // n)[k % n]) for k in range(step * self.bs, (step + 1) * self.bs)]
        x, targets = collate_scenes([self.ds[i] for i in idx])
        targets = [{k: v.to(self.device) for k, v in t.items()} for t in targets]
        return Batch(x.to(self.device), targets, self.tasks)


class StageBatches:
    """step -> one ``Batch`` per dataset of the stage (deterministic: step s -> its own items)."""

    def __init__(self, streams: list[_Stream]):
        self.streams = streams

    def __call__(self, step: int) -> list[Batch]:
        return [s(step) for s in self.streams]

    def images(self, step: int) -> torch.Tensor:
        """The step's images of every dataset in one tensor (for the label-free stage 1)."""
        xs = [b.x for b in self(step)]
        return xs[0] if len(xs) == 1 else torch.cat(xs)


def _endless(src: DataSource) -> bool:
    return src.format == 'synthetic' and not src.count


def _stages(cfg) -> list[str]:
    return (['teacher', 'stage1'] + (['stage1_finetune'] if cfg.stage1_finetune else []) + ['stage2', 'heads']
            + (['joint'] if cfg.joint else []) + (['decoder_warmup'] if cfg.decoder_warmup else []))


def _fmt(classes: dict[str, tuple[str, ...]]) -> str:
    return '; '.join(f'{t}: {list(v)}' for t, v in classes.items())


class RunData:
    """Every stage's datasets of one run, opened (and validated) once, up front.

    Args:
        cfg: The training config.
        teacher_size: Input size of the teacher (its datasets are read at it).
        ladon_size: Input size of the student (every other stage's).

    Raises:
        DataError: A dataset is unusable (the message names the file), or a stage's datasets
            do not label what it trains.
    """

    def __init__(self, cfg, teacher_size: tuple[int, int], ladon_size: tuple[int, int]):
        self.cfg = cfg
        self.sizes = {st: tuple(teacher_size if st == 'teacher' else ladon_size) for st in _OFFSETS}
        # stage -> [(source, finite dataset or None for the endless world)]
        self.sets: dict[str, list[tuple[DataSource, LabelledImages | None]]] = {}
        for stage in _stages(cfg):
            srcs = getattr(cfg, stage).data or (DataSource(format='synthetic'),)
            self.sets[stage] = [(s, None if _endless(s) else open_dataset(s, self.sizes[stage],
                                                                          default_seed=cfg.train_seed))
                                for s in srcs]
            self._check_covers(stage)

    def _check_covers(self, stage: str) -> None:
        need = STAGE_NEEDS['stage1' if stage.startswith('stage1') else stage]
        have = {t for _, ds in self.sets[stage] for t in (TASKS if ds is None else ds.tasks)}
        missing = [t for t in need if t not in have]
        if missing and getattr(self.cfg, stage).steps > 0:
            given = '; '.join(f'{src.describe()} labels {list(ds.tasks) if ds is not None else list(TASKS)}'
                              for src, ds in self.sets[stage])
            raise DataError(f'{stage}.data: no dataset labels {missing}, which the {stage} stage trains ({given})')

    def describe(self) -> str:
        """Where the run's data comes from, for the checkpoint notes."""
        own = [f'{st}: ' + ', '.join(s.describe() for s in getattr(self.cfg, st).data)
               for st in self.sets if getattr(self.cfg, st).data]
        world = f'the synthetic world (seed {self.cfg.train_seed})'
        return f'{world}' if not own else '; '.join(own) + (f'; other stages {world}' if len(own) < len(self.sets)
                                                             else '')

    def batches(self, stage: str, device: torch.device) -> StageBatches:
        """The batches of ``stage`` (``stage1_finetune`` included) on ``device``."""
        cfg = self.cfg
        bs = getattr(cfg, stage).batch_size or cfg.batch_size
        streams = []
        for k, (src, ds) in enumerate(self.sets[stage]):
            if ds is None:
                seed = cfg.train_seed if src.seed is None else src.seed
                world = SceneDataset(length=10_000_000, image_size=self.sizes[stage], seed=seed, offset=_OFFSETS[stage])
                streams.append(_Stream(world, bs, device, endless=True, tasks=TASKS))
            else:
                streams.append(_Stream(ds, bs, device, endless=False, tasks=ds.tasks,
                                       order_seed=(cfg.train_seed, _OFFSETS[stage], k)))
        return StageBatches(streams)

    def classes(self, init: TaskClasses | None = None, init_name: str = '') -> TaskClasses:
        """The class names the run's models predict, checked against every dataset.

        Each task's names come from the teacher's datasets, else from ``init`` (the teacher
        checkpoint the run starts from), else the synthetic world.

        Raises:
            DataError: Two datasets, or a dataset and the checkpoint being fine-tuned, name a
                task's classes differently.
        """
        named = [(f'{stage}.data {src.describe()}', ds.classes if ds is not None else SYNTHETIC_CLASSES.to_dict())
                 for stage, sets in self.sets.items() for src, ds in sets
                 # the teacher's built-in world counts too: its labels are the world's classes
                 if ds is not None or getattr(self.cfg, stage).data or stage == 'teacher']
        base = init if init is not None else SYNTHETIC_CLASSES
        chosen = {t: tuple(base.for_task(t)) for t in TASKS}
        origin = {t: init_name or 'the synthetic world' for t in TASKS}
        for where, classes in named:
            for t, names in classes.items():
                if where.startswith('teacher.') and not origin[t].startswith('teacher.'):
                    chosen[t], origin[t] = tuple(names), where
        for t, names in chosen.items():
            if len(names) < 2:  # a one-class head learns nothing, and checkpoints refuse it
                raise DataError(f'{origin[t]}: {t} needs at least 2 classes, got {list(names)}')
        for where, classes in named:
            for t, names in classes.items():
                if tuple(names) != chosen[t]:
                    raise DataError(f'{where}: {t} classes {list(names)} disagree with {origin[t]} '
                                    f'({list(chosen[t])}); every dataset of a run must name the same classes '
                                    'in the same order')
        if init is not None:
            for t in TASKS:
                if tuple(init.for_task(t)) != chosen[t]:
                    raise DataError(f'{origin[t]}: {t} classes {list(chosen[t])} disagree with the checkpoint '
                                    f'{init_name} being fine-tuned ({list(init.for_task(t))}); train a new teacher '
                                    '(no teacher_init) for other classes')
        return TaskClasses(**chosen)


def check_run_dir_classes(run_dir: Path, classes: TaskClasses) -> None:
    """Records the run's classes in ``run_dir/classes.json``; refuses a folder of other classes
    (its saved states would resume with heads of the wrong classes)."""
    f = Path(run_dir) / 'classes.json'
    if f.is_file():
        saved = TaskClasses.from_dict(json.loads(f.read_text()))
        if saved != classes:
            raise DataError(f'{f}: this run folder was trained on other classes ({_fmt(saved.to_dict())}) than the '
                            f"config's data ({_fmt(classes.to_dict())}); use another run_dir")
        return
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(classes.to_dict(), indent=1))
