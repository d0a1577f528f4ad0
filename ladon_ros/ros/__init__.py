"""The thin ROS 2 layer: convert messages, call the core, publish. Only this package imports rclpy."""
