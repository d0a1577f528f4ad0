"""The benchmark lab behind ``ladon-ros bench-*``: tables, never timed asserts.

A sibling package of ``ladon_ros``, outside the runtime: colcon installs ``ladon_ros/`` alone
for the nodes; ``pip install`` (``make setup``) installs both. Camera-side encoder costs
(``encoder``), edge throughput per stage (``edge``), robot footprint, bags, the single-robot
link benchmark in network namespaces (``link/``) and the fleet benchmark (``fleet/``). It may
import the runtime; the runtime never imports it (``test/test_layout.py``).
"""
