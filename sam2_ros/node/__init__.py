"""The ROS 2 node (rclpy). Adapts ROS messages to the engine and back; no engine logic here."""
