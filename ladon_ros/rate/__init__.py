"""Runtime rate control: the camera encoder follows the link. No ROS here.

- ``setting``: ``EncoderSetting``, the one notation of a camera-encoder setting
  (``jpeg@50``, ``ladon@0.25``, ``ladon:/path/x.safetensors``).
- ``policy``: picks a rate point and frame skipping from link feedback.
- ``points``: the rate points as encoder settings, and measuring what each costs.
- ``adapter``: the rate adapter's decision core (the ``rate_adapter`` node only converts,
  calls it and publishes).
"""
