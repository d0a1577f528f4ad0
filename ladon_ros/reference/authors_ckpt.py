"""Reading the authors' torch checkpoint files without executing pickled code.

torchdistill's ``save_ckpt`` writes ``{'model': state_dict, 'optimizer': ..., 'lr_scheduler': ...,
'best_value': ..., 'args': argparse.Namespace}``. Only ``torch.load(weights_only=True)`` is used:
its restricted unpickler builds tensors and plain containers and nothing else. The one class
allowed beyond those is ``argparse.Namespace`` (an attribute bag, no code runs), so files that
carry the training arguments still load; anything else is refused with the blocked name.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ladon_ros.reference.keymap import ConversionError

_SAFE_EXTRA = [argparse.Namespace]


def load_authors_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model state dict of one of the authors' ``.pt``/``.pth`` files.

    Args:
        path: A file written by torchdistill's ``save_ckpt`` (``'model'`` entry) or a bare
            state dict.

    Returns:
        Tensor name -> tensor (CPU).

    Raises:
        ConversionError: Missing file, or content the weights-only unpickler refuses.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f'checkpoint not found: {path}')
    try:
        with torch.serialization.safe_globals(_SAFE_EXTRA):
            obj = torch.load(str(path), map_location='cpu', weights_only=True)
    except Exception as err:  # the unpickler raises UnpicklingError/RuntimeError variants
        first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ConversionError(f'{path}: refused by the weights-only loader (no pickled code is run): '
                              f'{first}') from None
    if isinstance(obj, dict) and 'model' in obj and isinstance(obj['model'], dict):
        obj = obj['model']
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{path}: expected a state dict or a dict with a "model" state dict')
    return obj
