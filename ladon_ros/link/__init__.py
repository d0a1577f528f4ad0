"""A real constrained link on one machine, and the policy that follows it. No ROS here.

- ``netns``: two network namespaces joined by a veth pair (optionally through a relay
  namespace), ``tc ... tbf`` shaping, veth byte counters, guaranteed cleanup.
- ``relay``: a userspace layer-2 relay that adds delay and loss (``netem`` is absent).
- ``fastdds``: a Fast DDS profile that forces UDP (no shared memory past the veth).
- ``floor``: the link floor (camera compute + bytes / rate + edge compute) and summaries.
- ``rate_policy``: picks a rate point and frame skipping from link feedback.
- ``local_baseline``: the no-offload baseline (full model on one robot core).
"""
