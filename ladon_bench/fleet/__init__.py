"""The fleet benchmark: N robots share one shaped link and 1-2 edges (a tool; runtime never imports it).

- ``frames``: frames encoded beforehand by the real (torch-free, ONNX) camera encoder, per codec.
- ``metrics``: one cell's numbers from the robots' records, the floor, robots within budget,
  equal-accuracy pairing (no ROS, no I/O).
- ``harness``: namespaces, both-way shaping, edges pinned to cores, players, windows.
- ``report``: table, JSON rows and plots.

It builds on ``ladon_bench.link`` (namespaces, relay, UDP-only profile, cgroup quota);
the robots are ``latent-player`` processes of ``ladon_ros.ros.tools.bench_nodes``. See docs/FLEET_BENCH.md.
"""
