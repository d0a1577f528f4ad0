"""Camera (robot) side: camera image -> ``WireFrame``. No ROS here, and no torch unless asked.

- ``encoder``: ``LadonCameraEncoder``, the one check -> resize -> latent -> quantise ->
  entropy-code -> pack pipeline, over a back end that only computes the latent;
  ``check_camera_image``.
- ``torch_backend``: ``TorchBackend`` (a checkpoint's encoder on torch).
- ``onnx_backend``: ``OnnxBackend`` (an exported bundle on onnxruntime; no torch).
- ``identity``: ``ModelIdentity``, the model a Ladon encoder runs, the same for both back ends.
- ``bundle``: reading an exported bundle (``camera.json`` + files).
- ``image``: ``ImageCameraEncoder``, the raw/JPEG/PNG/WebP baselines.
- ``factory``: ``make_camera_encoder(...)``.

Only ``torch_backend`` imports torch, and only when the torch back end is chosen.
"""
from ladon_ros.camera.encoder import LadonCameraEncoder, check_camera_image
from ladon_ros.camera.factory import make_camera_encoder
from ladon_ros.camera.identity import ModelIdentity
from ladon_ros.camera.image import ImageCameraEncoder

__all__ = ['LadonCameraEncoder', 'ImageCameraEncoder', 'ModelIdentity', 'check_camera_image',
           'make_camera_encoder']
