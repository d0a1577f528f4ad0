"""CompressAI for the models, imported without torch_geometric's import-time warning.

``import compressai`` (any ``from compressai.x import y``) runs compressai's package
``__init__``, which imports its point-cloud datasets and transform registry and through them
``torch_geometric``; ``torch_geometric/__init__`` imports ``torch_geometric.nn``, whose pooling
modules call ``torch.jit.script`` on two classes at import, and torch 2.14 answers every such
call with ``FutureWarning: torch.jit.script is deprecated``. That warning was the first line
of every process that loads a Ladon model (the edge node, ``make demo``'s edge). The models
use none of it (``EntropyBottleneck``, ``GDN1``, ``CompressionModel``), and compressai offers
no way to skip those imports, so here, and only while compressai is imported, that one
message is not shown; any later ``torch.jit.script`` call (ours or a user's) still warns, and
every other warning of the import still shows. ``ladon_ros.models`` imports this module first, and
the package takes what it uses of compressai outside the models from here.
"""
from __future__ import annotations

import warnings

# The message torch gives torch_geometric's import-time torch.jit.script calls (torch/jit/_script.py).
JIT_SCRIPT_DEPRECATED = r'`torch\.jit\.script` is deprecated'

with warnings.catch_warnings():
    warnings.filterwarnings('ignore', message=JIT_SCRIPT_DEPRECATED, category=FutureWarning)
    import compressai  # noqa: F401 - imported here once; later imports reuse the module

from compressai.models.utils import update_registered_buffers  # noqa: E402 - after the import above

__all__ = ['update_registered_buffers']
