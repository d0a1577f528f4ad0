"""``ladon-ros demo``: the embedded default and the fleet as real ROS processes (tools, not runtime).

``single`` runs source -> camera encoder -> edge and reports each frame; ``fleet`` runs N
robots and M edges, kills one edge halfway and reports who served whom. Both start the
package's nodes (``ladon_ros.ros.processes``) and watch them with an rclpy node of their own.
"""
