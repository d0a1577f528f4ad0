"""QoS profiles of every topic, in one place (REP-2003 and the slow-link contract)."""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# Camera images (REP-2003 "sensor data": best effort; depth 1 rather than rclpy's 5 so
# the encoder always works on the newest image). A late image is
# worthless; retransmitting it would only delay the next one.
SENSOR = QoSProfile(
    reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST, depth=1,
    durability=DurabilityPolicy.VOLATILE)

# Latent frames cross the slow radio link: same keep-latest policy, so a link (or an edge)
# slower than the camera drops old frames instead of building a backlog of stale ones.
LATENT = SENSOR

# Results and statistics are small and consumed by planners/loggers: reliable, a short
# queue so a subscriber that hiccups gets them all without unbounded memory.
RESULTS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=10,
    durability=DurabilityPolicy.VOLATILE)

# What a robot on a thin link subscribes its own live results with (docs/FLEET.md "Thin
# links"): the edge's writers stay RELIABLE (so reliable readers match too), and a best-effort
# reader costs no heartbeats, no acknacks and no head-of-line wait for a repair: a lost
# result is simply missing, and the next frame's result follows one camera period later.
RESULTS_LIVE = QoSProfile(
    reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST, depth=10,
    durability=DurabilityPolicy.VOLATILE)

# Label maps change only when weights are (re)loaded: latched (transient local, depth 1)
# so a subscriber that starts later still gets the class names.
LATCHED = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=1,
    durability=DurabilityPolicy.TRANSIENT_LOCAL)

# Feedback to the robot: only the newest matters, but it must arrive, so reliable depth 1.
FEEDBACK = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=1,
    durability=DurabilityPolicy.VOLATILE)

# /diagnostics follows the diagnostic_aggregator convention (default reliable, depth 10).
DIAGNOSTICS = RESULTS
