"""sam2_ros: promptable video segmentation and tracking with SAM 2 for ROS 2.

The ROS-free engine lives in :mod:`sam2_ros.engine`; the export tool in
:mod:`sam2_ros.export`.
"""

# Let the rosidl-generated ``sam2_ros.msg`` (installed in another prefix) join this package.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__version__ = "0.1.0"
