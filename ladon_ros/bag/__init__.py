"""Latent bags: record what the robots sent to an MCAP file in the rosbag2 layout, replay it offline.

``msgdefs`` finds message definitions (ros2msg schemas), ``rosbag2`` writes and reads the bag
folder (``<name>_0.mcap`` + ``metadata.yaml``, readable by ``ros2 bag info/play`` and by
``rosbags``), ``replay`` runs the edge's perception on a bag without DDS. None of them imports
rclpy; recording from live topics and ``--publish`` live in ``ladon_ros.ros``.
"""
