"""Edge (base station) side: ``WireFrame`` -> validated decode -> shared body + wanted heads. No ROS.

Mirrors ``ladon_ros.camera``: one pipeline over a back-end protocol.

- ``validation``: the message-field checks and the size limits (``EdgeLimits``).
- ``decoders``: one decoder per codec family (``LatentFrameDecoder``, ``ImageFrameDecoder``);
  the latent itself is decoded and verified by ``ladon_ros.codec.latent.decode``.
- ``backend``: ``EdgeModel``, what a back end provides (decoder, body, heads; stage times).
- ``onnx_backend``: ``OnnxEdgeModel``, an edge bundle on ONNX Runtime (no torch).
- ``torch_backend``: ``TorchEdgeModel``, a loaded checkpoint on torch.
- ``bundle``: reading an edge bundle (``edge.json`` + graphs).
- ``factory``: ``load_edge_model(...)`` (ONNX by default; torch fallback with a warning).
- ``perception``: ``EdgePerception``, the pipeline.
- ``serving``: ``BatchServer`` (one batch: prepare, infer, charge, publish) and ``Quarantine``
  (the rules for a robot whose frames are all refused): the node's serve loop without rclpy.

Only ``torch_backend`` (and ``factory`` when it falls back) imports torch.
"""
from ladon_ros.edge.perception import EdgePerception, PreparedFrame
from ladon_ros.edge.validation import (DEFAULT_DECODE_TIMEOUT_MS, DEFAULT_MAX_IMAGE_SIDE, DEFAULT_MAX_MASK_SIDE,
                                       MAX_IMAGE_SIDE, EdgeLimits)

__all__ = ['EdgePerception', 'PreparedFrame', 'EdgeLimits', 'DEFAULT_DECODE_TIMEOUT_MS', 'DEFAULT_MAX_IMAGE_SIDE',
           'DEFAULT_MAX_MASK_SIDE', 'MAX_IMAGE_SIDE']
