"""Reading the edge bundle of a checkpoint (the folder ``ladon-ros export --edge`` writes; no torch).

Folder layout (``edge.json`` names the rest)::

    edge.json             format, the checkpoint's metadata (model, rate point, classes, hash)
    decoder.onnx          Ladon: latent (B, C, h, w) float32 -> layer1 features
    stem.onnx             teacher: normalised image (B, 3, H, W) -> layer1 features
    body.onnx             layer1 (B, ...) -> the body's stages 1..3
    body_int8.onnx        optional: the body statically quantised (QDQ, per-channel)
    classification.onnx   stage 3 -> class probabilities (B, K)
    segmentation.onnx     stage 3 -> label ids (B, H_in, W_in)
    detection.onnx        stages 0..3 of ONE frame -> boxes, labels, scores (Faster R-CNN,
                          proposals, RoIAlign and NMS inside the graph)
    tables.npz            Ladon: the entropy tables

The shipped checkpoints' bundles live in ``ladon_ros/weights/edge/<checkpoint stem>/``; the
writer is ``ladon_ros.export.edge_bundle``.
"""
from __future__ import annotations

from pathlib import Path

from ladon_ros.bundle_file import read_index
from ladon_ros.checkpoint import CheckpointMeta

EDGE_BUNDLE_FORMAT = 'ladon_ros.edge/1'
SHIPPED_EDGE_DIR = Path(__file__).resolve().parents[1] / 'weights' / 'edge'


def read_edge_bundle(folder: str | Path) -> tuple[dict, CheckpointMeta]:
    """Reads and validates ``edge.json``: (the file's fields, the checkpoint's metadata)."""
    path = Path(folder) / 'edge.json'
    info = read_index(folder, 'edge.json', EDGE_BUNDLE_FORMAT, 'ladon-ros export --edge')
    meta = CheckpointMeta.from_json(info['meta'])
    needed = ['body', 'classification', 'segmentation', 'detection']
    needed += ['decoder', 'tables'] if meta.kind == 'ladon' else ['stem']
    for key in needed:
        if not info.get(key) or not (Path(folder) / info[key]).is_file():
            raise ValueError(f'{path}: {key} file missing')
    return info, meta


def edge_bundle_for(checkpoint: str | Path, meta: CheckpointMeta, search: Path | None = None) -> Path | None:
    """The bundle folder of ``checkpoint`` (``<search>/<stem>/``) if its weights hash matches, else None."""
    folder = (search or SHIPPED_EDGE_DIR) / Path(checkpoint).stem
    if not (folder / 'edge.json').is_file():
        return None
    try:
        _, bundled = read_edge_bundle(folder)
    except (ValueError, KeyError, FileNotFoundError):
        return None
    return folder if bundled.weights_hash == meta.weights_hash else None
