"""``load_edge_model``: a checkpoint on the back end a node, benchmark or test asks for by name."""
from __future__ import annotations

import warnings
from pathlib import Path

from ladon_ros.edge.bundle import edge_bundle_for

BACKENDS = ('onnx', 'torch')


def load_edge_model(checkpoint: str | Path, *, backend: str = 'onnx', device: str = 'cpu', threads: int = 1,
                    int8: bool = False, bundles: Path | None = None, warn=None):
    """One checkpoint (Ladon or teacher) as an ``EdgeModel``.

    Args:
        checkpoint: The checkpoint (safetensors).
        backend: ``'onnx'`` (its edge bundle on ONNX Runtime; torch is not imported) or
            ``'torch'``. A checkpoint with no bundle (or whose bundle holds other weights)
            falls back to torch with a warning, as the camera does.
        device: 'cpu' or 'cuda[:N]'.
        threads: ONNX Runtime intra-op threads per graph.
        int8: Run the int8 body (ONNX only; without one exported: fp32, with a warning).
        bundles: Folder holding ``<checkpoint stem>/edge.json`` (default: the shipped ones).
        warn: Called with each warning (default ``warnings.warn``).
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    warn = warn or (lambda text: warnings.warn(text, stacklevel=3))
    if backend == 'onnx':
        from ladon_ros.checkpoint import read_metadata
        meta = read_metadata(checkpoint)
        folder = edge_bundle_for(checkpoint, meta, bundles)
        if folder is not None:
            from ladon_ros.edge.bundle import read_edge_bundle
            from ladon_ros.edge.onnx_backend import OnnxEdgeModel
            if int8 and not read_edge_bundle(folder)[0].get('body_int8'):
                warn(f'{folder}: no int8 body exported; running fp32 (`ladon-ros export --edge --int8`)')
                int8 = False
            return OnnxEdgeModel(folder, threads=threads, int8=int8, device=device)
        warn(f'{checkpoint}: no edge bundle for weights {meta.short_hash} (`ladon-ros export --edge`): '
             'falling back to the torch back end')
    from ladon_ros.checkpoint import load_checkpoint
    from ladon_ros.edge.torch_backend import TorchEdgeModel
    model, meta = load_checkpoint(checkpoint)
    return TorchEdgeModel(model, meta, device)
