"""``ladon-ros train --config FILE``: the teacher and the Ladon rate points (resumable)."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``train`` subcommand."""
    p = sub.add_parser('train', help='train the teacher and the Ladon rate points (resumable)')
    p.add_argument('--config', required=True, help='YAML training config (configs/train/*.yaml)')
    p.add_argument('--stages', default='teacher,ladon', help="comma list of 'teacher', 'ladon'")
    p.add_argument('--betas', default='', help='comma list: train only these rate points of the config')
    p.add_argument('--run-dir', default='', help='override run_dir (resumable states, loss log)')
    p.add_argument('--weights-dir', default='', help='override weights_dir (final checkpoints)')
    p.add_argument('--threads', type=int, default=-1,
                   help='override threads (torch CPU threads; 0 = torch default), e.g. when '
                        'running one process per rate point')
    p.set_defaults(func=run)


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
    if over:
        cfg = dataclasses.replace(cfg, **over)
    stages = tuple(s.strip() for s in args.stages.split(',') if s.strip())
    bad = set(stages) - {'teacher', 'ladon'}
    if bad:
        raise SystemExit(f'unknown stages {sorted(bad)}')
    betas = tuple(float(b) for b in args.betas.split(',') if b.strip()) or None
    try:
        summary = train(cfg, stages=stages, betas=betas)
    except DataError as err:  # bad data or classes: the message names the file, a traceback adds nothing
        print(f'train: {err}', file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1, default=str))
    return 0
