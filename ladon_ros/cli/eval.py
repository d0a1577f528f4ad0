"""``ladon-ros eval``: the rate-accuracy study on held-out generated scenes."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``eval`` subcommand."""
    p = sub.add_parser('eval', help='rate-accuracy study: teacher, Ladon rate points, JPEG/WebP/PNG')
    p.add_argument('--quick', action='store_true', help='fewer scenes and qualities (a few minutes on CPU)')
    p.add_argument('--seed', type=int, default=0, help='held-out world number (default 0)')
    p.add_argument('--scenes', type=int, default=0, help='override the number of held-out scenes')
    p.add_argument('--json', default='', help='write the rows (task -> list of rows) to this file')
    p.add_argument('--out', default='out/eval', help='folder for the plot, table and target comparisons')
    p.add_argument('--weights-dir', default='', help='checkpoints folder (default: the shipped weights)')
    p.add_argument('--model', default='',
                   help="the Ladon model whose rate points are studied (default: the shipped default model when "
                        "the folder holds it, else the folder's only one)")
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = default)')
    p.add_argument('--edge-engine', choices=['torch', 'onnx', 'onnx-int8'], default='torch',
                   help="the edge's engine (onnx: edge bundles exported for the study; onnx-int8: int8 body)")
    p.add_argument('--proposals', type=int, default=None,
                   help="RPN proposals kept per image at test time (default: the model spec's rpn_post_nms_test)")
    p.add_argument('--dataset', default='',
                   help='evaluate on this COCO-format set (folder with annotations.json + images/, or the JSON) '
                        'instead of a held-out world; its classes must be the checkpoints\'; --scenes limits it')
    p.add_argument('--diagnose', action='store_true',
                   help='instead of the codec study: where each rate point loses accuracy (the wire path, the '
                        'unrounded latent, and the student decoder into the teacher\'s body and heads)')
    p.set_defaults(func=run)


def run(args) -> int:
    """Runs the study; prints the markdown table."""
    import json
    import shlex
    import sys
    from pathlib import Path

    import torch

    from ladon_ros.checkpoint import read_metadata
    from ladon_ros.data.formats import DataError
    from ladon_ros.eval.report import markdown, nan_to_none, plot, targets, to_rows
    from ladon_ros.eval.study import FULL, QUICK, Study, run_study
    from ladon_ros.weights import DEFAULT_LADON, WEIGHTS_DIR, is_random

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    wdir = Path(args.weights_dir) if args.weights_dir else WEIGHTS_DIR
    by_model, teacher = {}, None
    for p in sorted(wdir.glob('*.safetensors')):
        meta = read_metadata(p)
        if is_random(meta):
            continue
        if meta.kind == 'ladon':
            by_model.setdefault(meta.model_id, []).append(p)
        elif teacher is None:
            teacher = p
    if teacher is None:
        print(f'no trained teacher checkpoint in {wdir}; run ladon-ros train first', file=sys.stderr)
        return 2
    # One model's rate points (a study's rows are keyed by rate point): the default model, or
    # the folder's only one when it does not hold the default.
    model = args.model
    if not model:
        model = next(iter(by_model)) if len(by_model) == 1 and DEFAULT_LADON not in by_model else DEFAULT_LADON
    if model not in by_model:
        print(f'eval: no trained {model!r} checkpoint in {wdir}; it holds {sorted(by_model) or "none"} (--model)',
              file=sys.stderr)
        return 2
    ladon = by_model[model]
    print(f'eval: {model} rate points {[p.name for p in ladon]}, teacher {teacher.name}', file=sys.stderr)
    grid = dict(QUICK if args.quick else FULL)
    if args.scenes:
        grid['scenes'] = args.scenes
    try:
        study = Study(ladon=ladon, teacher=teacher, scenes=args.scenes if args.dataset else grid['scenes'],
                      seed=args.seed, dataset=args.dataset or None, engine=args.edge_engine,
                      proposals=args.proposals)
    except DataError as err:
        print(f'eval: {err}', file=sys.stderr)
        return 2
    grid['scenes'] = len(study.scenes)
    if args.diagnose:
        from ladon_ros.eval import diagnose
        md = diagnose.markdown(diagnose.diagnose(study))
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / 'diagnose.md').write_text(md)
        print(md)
        return 0
    results = run_study(study, grid)
    tgt = targets(results)
    command = 'ladon-ros ' + ' '.join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ['eval'] \
        else 'ladon-ros eval' + (' --quick' if args.quick else '') + f' --seed {args.seed}' \
        + (f' --dataset {shlex.quote(args.dataset)}' if args.dataset else '')
    md = markdown(results, tgt, command=command, scenes=grid['scenes'], seed=args.seed, dataset=args.dataset,
                  model=model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'table.md').write_text(md)
    (out / 'targets.json').write_text(json.dumps(nan_to_none(tgt), indent=1))
    plot(results, out / 'rate_accuracy.png')
    rows = to_rows(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(nan_to_none(rows), indent=1))
    print(md)
    print(f'wrote {out / "table.md"}, {out / "targets.json"}, {out / "rate_accuracy.png"}'
          + (f', {args.json}' if args.json else ''))
    return 0
