"""Writing the camera bundle of a checkpoint (``ladon-ros export``); needs torch.

- ``onnx_graph``: the camera encoder as an ONNX graph (uint8 RGB in, float32 latent out).
- ``bundle``: ``export_camera_bundle``, the folder the torch-free camera runs from.
- ``int8``: the statically quantised (int8) encoder variant.

The robot side only reads bundles (``ladon_ros.camera.bundle``) and codes latents with
``ladon_ros.codec.latent``; it never imports this package.
"""
