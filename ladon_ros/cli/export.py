"""``ladon-ros export``: a checkpoint -> ONNX bundles for a torch-free camera (default) or edge (``--edge``)."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``export`` subcommand."""
    p = sub.add_parser(
        'export', help='export the camera encoder (or, with --edge, the edge graphs) to ONNX for a torch-free runtime',
        description='Camera (default): writes encoder.onnx (uint8 RGB in, normalisation folded in), tables.npz/.json '
                    '(quantized_cdf, cdf_length, offset, medians), encoder_weights.npz and camera.json. '
                    "Run the camera with make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=DIR). "
                    'Edge (--edge): writes decoder.onnx (or the teacher\'s stem.onnx), body.onnx, the three heads, '
                    'tables.npz and edge.json; the edge node runs them with backend onnx. '
                    '--edge --shipped rewrites the bundles of every shipped checkpoint (ladon_ros/weights/edge/), '
                    'the command to rerun after the shipped weights change.')
    p.add_argument('--model', default=None, help='expected model id (refuse a checkpoint of another model)')
    p.add_argument('--checkpoint', default=None,
                   help='checkpoint (.safetensors); default: the shipped Ladon one of --model or the default')
    p.add_argument('--out', default=None, help='output folder (not with --shipped)')
    p.add_argument('--int8', action='store_true',
                   help='also write the int8 (static QDQ, per-channel, calibrated on synthetic scenes) variant: '
                        'the encoder (camera) or the body (edge)')
    p.add_argument('--edge', action='store_true', help='export the edge bundle instead of the camera bundle')
    p.add_argument('--shipped', action='store_true',
                   help='with --edge: every shipped checkpoint (Ladon rate points and the teacher) into '
                        'ladon_ros/weights/edge/<checkpoint stem>/')
    p.set_defaults(func=run, export_parser=p)


def run(args) -> int:
    """Exports and prints what was written."""
    from ladon_ros.checkpoint import CheckpointError, read_metadata
    from ladon_ros.weights import default_checkpoint, is_random, shipped_checkpoints
    if args.shipped:
        if not args.edge or args.out or args.checkpoint:
            args.export_parser.error('--shipped goes with --edge and without --out/--checkpoint')
        from ladon_ros.edge.bundle import SHIPPED_EDGE_DIR
        jobs = [(path, SHIPPED_EDGE_DIR / path.stem) for path, _ in shipped_checkpoints()]
    else:
        if not args.out:
            args.export_parser.error('the following arguments are required: --out (or --edge --shipped)')
        jobs = [(args.checkpoint or default_checkpoint('ladon', args.model), args.out)]
    for ckpt, out in jobs:
        try:
            meta = read_metadata(ckpt)
            if args.model is not None and meta.model_id != args.model:
                raise CheckpointError(f'{ckpt} is a {meta.model_id!r} checkpoint, not {args.model!r}')
            if is_random(meta):
                print(f'WARNING: {ckpt} holds RANDOM (untrained) weights')
            if args.edge:
                from ladon_ros.export.edge_bundle import export_edge_bundle
                info = export_edge_bundle(ckpt, out, int8=args.int8)
                print(f'wrote {out}: {meta.kind} model={meta.model_id} hash={meta.short_hash} '
                      f'int8={"yes" if info["body_int8"] else "no"}')
                continue
            from ladon_ros.export.bundle import export_camera_bundle
            info = export_camera_bundle(ckpt, out, int8=args.int8)
        except (CheckpointError, ValueError) as err:
            print(f'export: {err}')
            return 2
        print(f'wrote {out}: model={info["model_id"]} hash={info["weights_hash"][:16]} '
              f'input={info["input_size"][0]}x{info["input_size"][1]} latent={tuple(info["latent_shape"])} '
              f'int8={"yes" if info["encoder_int8"] else "no"}')
    return 0
