"""The link benchmark: a real constrained link on one machine (a tool; runtime never imports it).

- ``netns``: two network namespaces joined by a veth pair (optionally through a relay
  namespace), ``tc ... tbf`` shaping, veth byte counters, guaranteed cleanup.
- ``relay``: a userspace layer-2 relay that adds delay and loss (``netem`` is absent).
- ``fastdds``: a Fast DDS profile that forces UDP (no shared memory past the veth).
- ``cases``: the codec and link-rate cases of a run.
- ``floor``: the link floor (camera compute + bytes / rate + edge compute) and summaries.
- ``harness``: runs the pipeline across the link and records each case.
- ``adaptive_run``: the rate adapter against a link whose rate changes.
- ``report``: tables, JSON and plots.
- ``local_baseline``: the no-offload baseline (full model on one robot core).

Its ROS processes are in ``ladon_ros.ros.tools.bench_nodes``; the rate policy it exercises is the
runtime's ``ladon_ros.rate``.
"""
