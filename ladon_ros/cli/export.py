"""``ladon-ros export``: a Ladon checkpoint -> ONNX encoder + entropy tables for a torch-free camera."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``export`` subcommand."""
    p = sub.add_parser(
        'export', help='export the camera encoder (ONNX) and entropy tables for a torch-free camera',
        description='Writes encoder.onnx (uint8 RGB in, normalisation folded in), tables.npz/.json '
                    '(quantized_cdf, cdf_length, offset, medians), encoder_weights.npz and camera.json. '
                    "Run the camera with make_camera_encoder(codec='ladon', backend='onnx', onnx_dir=DIR).")
    p.add_argument('--model', default=None, help='expected model id (refuse a checkpoint of another model)')
    p.add_argument('--checkpoint', default=None,
                   help='Ladon checkpoint (.safetensors); default: the shipped one of --model or the default')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--int8', action='store_true', help='also write encoder_int8.onnx (calibrated on synthetic scenes)')
    p.set_defaults(func=run)


def run(args) -> int:
    """Exports and prints what was written."""
    from ladon_ros.checkpoint import CheckpointError, read_metadata
    from ladon_ros.export.bundle import export_camera_bundle
    from ladon_ros.weights import default_checkpoint, is_random
    ckpt = args.checkpoint
    if ckpt is None:
        ckpt = default_checkpoint('ladon', args.model)
    try:
        meta = read_metadata(ckpt)
        if args.model is not None and meta.model_id != args.model:
            raise CheckpointError(f'{ckpt} is a {meta.model_id!r} checkpoint, not {args.model!r}')
        if is_random(meta):
            print(f'WARNING: {ckpt} holds RANDOM (untrained) weights')
        info = export_camera_bundle(ckpt, args.out, int8=args.int8)
    except (CheckpointError, ValueError) as err:
        print(f'export: {err}')
        return 2
    print(f'wrote {args.out}: model={info["model_id"]} hash={info["weights_hash"][:16]} '
          f'input={info["input_size"][0]}x{info["input_size"][1]} latent={tuple(info["latent_shape"])} '
          f'int8={"yes" if info["encoder_int8"] else "no"}')
    return 0
