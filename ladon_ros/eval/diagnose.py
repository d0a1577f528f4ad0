"""Where a rate point loses accuracy (``ladon-ros eval --diagnose``).

For each Ladon rate point, three ways to reach the heads, side by side on the same scenes:

- ``wire``: the real path (entropy-coded, rounded latent; the student's decoder, body, heads);
- ``unrounded``: the encoder's latent without rounding into the student's decoder: what the
  quantisation costs;
- ``teacher_tail``: the rounded latent through the student's decoder into the *teacher's*
  body and heads: whether the student's body and heads (trained on it) or its decoder output
  is what loses (the decoder is distilled to the teacher's ``layer1``).

The teacher on raw frames is the ceiling.
"""
from __future__ import annotations

import torch

from ladon_ros.codec.preprocess import resize_rgb, to_tensor
from ladon_ros.world import Scene
from ladon_ros.eval.study import ConfigResult, Study


def _images(study: Study, chunk: list[Scene]) -> torch.Tensor:
    """The scenes as the models' normalised input (the camera's own resize and normalisation)."""
    meta = study.teacher_meta
    return torch.cat([to_tensor(resize_rgb(s.image, study.input_size), meta.mean, meta.std) for s in chunk])


@torch.no_grad()
def diagnose(study: Study) -> list[ConfigResult]:
    """Measures the teacher and, per rate point, ``wire``, ``unrounded`` and ``teacher_tail``."""
    rows = [study.run('teacher')]
    for rp in sorted(study.ladon):
        model, _ = study.ladon[rp]
        bn = model.bottleneck
        wire = study.run('ladon', rp)
        wire.extra['path'] = 'wire'
        rows.append(wire)
        paths = {
            'unrounded': (lambda c, bn=bn: bn.decoder(bn.encoder(_images(study, c))), model.tail.infer),
            'teacher_tail': (lambda c, bn=bn: bn.decoder(bn.quantize_latent(bn.encoder(_images(study, c)))),
                             study.teacher.tail.infer),
        }
        for name, (features, infer) in paths.items():
            r = study.measure(features, infer, 'ladon', rp)
            r.bytes_per_frame, r.extra['path'] = float('nan'), name
            rows.append(r)
    return rows


def markdown(rows: list[ConfigResult]) -> str:
    """One table: path, rate point, the three tasks' metrics."""
    lines = ['| path | beta | top-1 | box mAP@[.5:.95] | box mAP@.5 | mIoU |', '|---|---|---:|---:|---:|---:|']
    for r in rows:
        beta = '-' if r.setting is None else f'{r.setting:g}'
        path = r.extra.get('path', 'raw frames') if r.codec == 'ladon' else 'teacher, raw frames'
        lines.append(f'| {path} | {beta} | {r.top1:.3f} | {r.map:.3f} | {r.map50:.3f} | {r.miou:.3f} |')
    return '\n'.join(lines) + '\n'

