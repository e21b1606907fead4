"""rosbag2 recordings: read as a source for the player (``source``), written with the message
definitions embedded (``writer``), and ``sam2-ros-record`` (``record``)."""
