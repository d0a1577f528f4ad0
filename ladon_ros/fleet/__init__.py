"""Fleet core: per-robot queueing and fair scheduling, robot membership, edge assignment.

No rclpy here: the edge node feeds these from the ROS graph and the heartbeat topic.

- ``queue``: frames waiting at the edge (keep-latest per robot, fair batches by edge time).
- ``pacing``: a saturated edge takes its robots' frames in bursts (one executor wake for many).
- ``assignment``: which live edge serves which robot (rendezvous hashing, operator pins).
- ``membership``: which robots exist (graph discovery, allow/deny patterns, timeout).
- ``peers``: which edges are live (heartbeats, liveliness loss) and the hot-standby rule.
"""
