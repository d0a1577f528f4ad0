"""``ladon-ros train --config FILE``: the teacher and the Ladon rate points (resumable)."""
from __future__ import annotations

import argparse
from pathlib import Path

STAGES = ('teacher', 'ladon')


def register(sub) -> None:
    """Adds the ``train`` subcommand."""
    p = sub.add_parser('train', help='train the teacher and the Ladon rate points (resumable)')
    p.add_argument('--config', required=True, type=_existing_file, help='YAML training config (configs/train/*.yaml)')
    p.add_argument('--stages', default='teacher,ladon', type=_stages, help="comma list of 'teacher', 'ladon'")
    p.add_argument('--betas', default='', type=_betas, help='comma list: train only these rate points of the config')
    p.add_argument('--run-dir', default='', help='override run_dir (resumable states, loss log)')
    p.add_argument('--weights-dir', default='', help='override weights_dir (final checkpoints)')
    p.add_argument('--joint-from', default='',
                   help='override joint_from: a folder of finished checkpoints (e.g. ladon_ros/weights); each '
                        'rate point starts from its checkpoint there and runs only the joint stage')
    p.add_argument('--threads', type=int, default=-1,
                   help='override threads (torch CPU threads; 0 = torch default), e.g. when '
                        'running one process per rate point')
    p.set_defaults(func=run)


def _existing_file(text: str) -> str:
    """argparse type of ``--config``: a file that exists."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f'no such file: {text}')
    return text


def _stages(text: str) -> tuple[str, ...]:
    """argparse type of ``--stages``: a comma list of ``STAGES``."""
    stages = tuple(s.strip() for s in text.split(',') if s.strip())
    bad = sorted(set(stages) - set(STAGES))
    if bad:
        raise argparse.ArgumentTypeError(f'unknown stages {bad}; expected a comma list of {", ".join(STAGES)}')
    return stages


def _betas(text: str) -> tuple[float, ...]:
    """argparse type of ``--betas``: a comma list of numbers (may be empty)."""
    try:
        return tuple(float(b) for b in text.split(',') if b.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a comma list of numbers: {text!r}') from None


def run(args) -> int:
    """Loads the config and runs the recipe; prints a JSON summary."""
    import dataclasses
    import json
    import sys

    from ladon_ros.data.formats import DataError
    from ladon_ros.train.config import load_config
    from ladon_ros.train.runner import train
    cfg = load_config(args.config)
    over = {}
    if args.run_dir:
        over['run_dir'] = args.run_dir
    if args.weights_dir:
        over['weights_dir'] = args.weights_dir
    if args.threads >= 0:
        over['threads'] = args.threads
    if args.joint_from:
        over['joint_from'] = args.joint_from
    if over:
        cfg = dataclasses.replace(cfg, **over)
    try:
        summary = train(cfg, stages=args.stages, betas=args.betas or None)
    except DataError as err:  # bad data or classes: the message names the file, a traceback adds nothing
        print(f'train: {err}', file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1, default=str))
    return 0
