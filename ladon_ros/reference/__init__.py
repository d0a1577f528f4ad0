"""Fidelity to the Ladon authors' reference code (sc2bench / ladon-multi-task-sc2).

- ``classes``: the class lists of the published checkpoints (ImageNet 1000, COCO 91, VOC 21),
  shipped as text files.
- ``keymap``: state_dict key mapping from the authors' modules to ``ladon_ros`` models.
- ``authors_ckpt``: pickle-free loading of the authors' ``.pt`` files (``weights_only=True``).
- ``convert``: their classification + detection + segmentation files -> one safetensors checkpoint.

See ``docs/FIDELITY.md`` for what matches and where the reference and ``ladon_ros`` differ.
"""
