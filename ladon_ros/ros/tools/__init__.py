"""The tools' ROS processes (tools, not runtime: ``test/test_layout.py``), in the ROS layer
because only it imports rclpy.

``demo`` / ``fleet_demo``: ``ladon-ros demo`` (source -> camera encoder -> edge, and the fleet
with one edge killed halfway); ``bag_record`` / ``bag_play``: ``ladon-ros record`` and ``replay
--publish``; ``bench_nodes`` / ``footprint_probe``: the processes the benchmarks start.
"""
