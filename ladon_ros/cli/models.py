"""``ladon-ros models``: list the registered architectures and the shipped checkpoints."""
from __future__ import annotations


def register(sub) -> None:
    """Adds the ``models`` subcommand."""
    p = sub.add_parser('models', help='list registered models and shipped checkpoints')
    p.set_defaults(func=run)


def run(args) -> int:
    """Prints one line per model and per shipped checkpoint."""
    from ladon_ros.models import list_models, model_spec
    from ladon_ros.weights import shipped_checkpoints
    for name in list_models():
        s = model_spec(name)
        print(f'{name:20s} input {s.input_size[0]}x{s.input_size[1]}  latent {s.latent_shape}  body {s.body}')
    for path, meta in shipped_checkpoints():
        print(f'shipped: {path.name}  model={meta.model_id} rate_point={meta.rate_point} hash={meta.short_hash}')
    return 0
