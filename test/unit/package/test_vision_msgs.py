"""vision_msgs as this package uses it: every field of the messages pinned to upstream 4.1.1.

On a ROS install this checks the real package; in the pip-only set-up it checks the copy that
scripts/setup_env.sh builds from interfaces/vision_msgs (no wheel exists), so both are the same
messages on the wire.
"""

from __future__ import annotations

import importlib

import pytest

# ros-perception/vision_msgs 4.1.1, field for field (rosidl's Python type names)
UPSTREAM_4_1_1 = {
    "Point2D": {"x": "double", "y": "double"},
    "Pose2D": {"position": "vision_msgs/Point2D", "theta": "double"},
    "BoundingBox2D": {"center": "vision_msgs/Pose2D", "size_x": "double", "size_y": "double"},
    "ObjectHypothesis": {"class_id": "string", "score": "double"},
    "ObjectHypothesisWithPose": {
        "hypothesis": "vision_msgs/ObjectHypothesis",
        "pose": "geometry_msgs/PoseWithCovariance",
    },
    "Detection2D": {
        "header": "std_msgs/Header",
        "results": "sequence<vision_msgs/ObjectHypothesisWithPose>",
        "bbox": "vision_msgs/BoundingBox2D",
        "id": "string",
    },
    "Detection2DArray": {"header": "std_msgs/Header", "detections": "sequence<vision_msgs/Detection2D>"},
    "VisionClass": {"class_id": "uint16", "class_name": "string"},
    "LabelInfo": {"header": "std_msgs/Header", "class_map": "sequence<vision_msgs/VisionClass>", "threshold": "float"},
    "BoundingBox3D": {"center": "geometry_msgs/Pose", "size": "geometry_msgs/Vector3"},
    "Detection3D": {
        "header": "std_msgs/Header",
        "results": "sequence<vision_msgs/ObjectHypothesisWithPose>",
        "bbox": "vision_msgs/BoundingBox3D",
        "id": "string",
    },
    "Detection3DArray": {"header": "std_msgs/Header", "detections": "sequence<vision_msgs/Detection3D>"},
}


@pytest.mark.parametrize("name", sorted(UPSTREAM_4_1_1))
def test_fields_match_upstream_4_1_1(name):
    message = getattr(importlib.import_module("vision_msgs.msg"), name)
    # same names, same types, same order (the order is the wire layout)
    assert list(message.get_fields_and_field_types().items()) == list(UPSTREAM_4_1_1[name].items())


def test_a_detection_array_survives_serialisation():
    """The type support is built and loads: a filled message round-trips through CDR."""
    from rclpy.serialization import deserialize_message, serialize_message
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    detection = Detection2D(id="7")
    detection.bbox.center.position.x, detection.bbox.size_x = 12.5, 30.0
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = "cup", 0.75
    detection.results.append(hypothesis)
    sent = Detection2DArray(detections=[detection])
    sent.header.frame_id = "camera"
    received = deserialize_message(serialize_message(sent), Detection2DArray)
    assert received == sent
