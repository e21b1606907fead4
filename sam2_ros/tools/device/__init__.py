"""``sam2-ros-device-check``: does sam2_ros work on a Qualcomm device, and how fast (``check``), with
the platform's description (``platform``), the measurements (``measure``), failure hints
(``hints``) and the report's schema and table (``report``)."""
