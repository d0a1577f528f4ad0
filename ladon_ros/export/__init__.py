"""The camera side without torch: ONNX encoder + entropy tables + compressai's rANS coder.

- ``tables``: the entropy model's CDF tables and medians as numpy (``tables.npz``).
- ``canonical``: the latent quantiser both camera back ends share; rounding decisions that
  float32 noise could flip are settled by an exact float64 recomputation, so the torch and
  ONNX paths emit identical symbols and bytes.
- ``rans``: compressai's C++ rANS coder, loaded without importing torch.
- ``onnx_graph`` / ``bundle``: writing the export folder (needs torch).
- ``onnx_camera``: ``OnnxCameraEncoder`` (onnxruntime + numpy + opencv + rANS only).

Only ``onnx_graph`` and ``bundle`` import torch.
"""
