"""Launch sam2_ros_node (a lifecycle node that configures and activates itself) and, optionally, RViz.

    ros2 launch sam2_ros sam2_ros.launch.py model_dir:=/path/to/model image_topics:="['/camera/image_raw']"
    ros2 launch sam2_ros sam2_ros.launch.py params_file:=/path/to/my_params.yaml rviz:=true

The node's parameters come from `params_file` (default: the package's config/sam2_ros.yaml).
`model_dir`, `backend`, `aidlite_accelerator`, `openvino_device`, `openvino_precision`, `image_topics`
and `depth_topics` override the parameter of the same name only when given: left out (empty), the
params file decides, and the node's defaults (sam2_ros/node/params.py) fill in what neither sets.
With `rviz:=true` and no `rviz_config`, RViz gets a config generated from rviz/sam2_ros.rviz with
one camera/overlay/mask display set per image stream, on the topics the node uses in its namespace.
With `rviz:=true` where rviz2 is not installed (not in the ament index of AMENT_PREFIX_PATH), the
launch fails at once with one line saying so, before anything starts: no node is left running.
The logic lives in sam2_ros/tools/launch_support.py and rviz_config.py (unit-tested without launch_ros).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from launch import Action, LaunchDescription
from sam2_ros.tools import launch_support, rviz_config


def _argument(context: LaunchContext, name: str) -> str:
    """The launch argument's value, as given (or its default)."""
    return LaunchConfiguration(name).perform(context)


def _launch_setup(context: LaunchContext) -> list[Action]:
    """The node and RViz, built from the launch arguments' values.

    RViz's executable is looked up before any action is returned: launch starts the actions in
    order, so a failure in the RViz action would leave the node already started running.
    """
    with_rviz = IfCondition(LaunchConfiguration("rviz")).evaluate(context)
    if with_rviz:
        launch_support.require_executable("rviz2", "rviz2", "rviz:=true")
    params_file = _argument(context, "params_file") or PathJoinSubstitution(
        [FindPackageShare("sam2_ros"), "config", "sam2_ros.yaml"]
    ).perform(context)
    namespace = launch_support.node_namespace(
        _argument(context, "namespace"), context.launch_configurations.get("ros_namespace")
    )
    given = {name: _argument(context, name) for name in launch_support.OVERRIDE_ARGUMENTS}
    node = LifecycleNode(
        package="sam2_ros",
        executable="sam2_ros_node",
        name=launch_support.NODE_NAME,
        namespace=namespace,
        output="screen",
        parameters=launch_support.node_parameters(params_file, given),
    )
    actions: list[Action] = [node]
    if with_rviz:
        config = _argument(context, "rviz_config")
        if not config:
            template = PathJoinSubstitution([FindPackageShare("sam2_ros"), "rviz", "sam2_ros.rviz"]).perform(context)
            folder = tempfile.mkdtemp(prefix="sam2_ros_rviz_")
            atexit.register(shutil.rmtree, folder, True)
            topics = launch_support.image_topics_for(given["image_topics"], params_file, namespace)
            config = str(rviz_config.write_config(template, topics, namespace, folder))
        actions.append(Node(package="rviz2", executable="rviz2", arguments=["-d", config], output="screen"))
    return actions


def generate_launch_description() -> LaunchDescription:
    """The launch arguments and the OpaqueFunction that builds the node (and RViz) from them."""
    arguments = [
        DeclareLaunchArgument(
            "model_dir",
            default_value="",
            description="model directory written by sam2-ros-export; empty: the params file's model_dir",
        ),
        DeclareLaunchArgument(
            "backend",
            default_value="",
            description=(
                "inference backend: onnxruntime, openvino, qnn or aidlite; empty: the params file's (or onnxruntime)"
            ),
        ),
        DeclareLaunchArgument(
            "aidlite_accelerator",
            default_value="",
            description="with backend aidlite: dsp, cpu or gpu; empty: the params file's (or dsp)",
        ),
        DeclareLaunchArgument(
            "openvino_device",
            default_value="",
            description="with backend openvino: CPU, GPU, NPU, AUTO, ...; empty: the params file's (or CPU)",
        ),
        DeclareLaunchArgument(
            "openvino_precision",
            default_value="",
            description="with backend openvino: f32 (exact), bf16 or mixed (fast mode); empty: the params "
            "file's, else the model directory's (sam2-ros-export --target openvino), else f32",
        ),
        DeclareLaunchArgument(
            "image_topics",
            default_value="",
            description="YAML list of camera image topics, e.g. \"['/cam_left/image_raw', '/cam_right/image_raw']\"; "
            "empty: the params file's (or ['image'])",
        ),
        DeclareLaunchArgument(
            "depth_topics",
            default_value="",
            description="YAML list of aligned depth image topics, one per image topic (objects in 3D), e.g. "
            "\"['/camera/aligned_depth_to_color/image_raw']\"; empty: the params file's (or none)",
        ),
        DeclareLaunchArgument(
            "namespace", default_value="", description="namespace of the node and its relative topics"
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("sam2_ros"), "config", "sam2_ros.yaml"]),
            description="the node's parameters file",
        ),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz on the node's topics"),
        DeclareLaunchArgument(
            "rviz_config",
            default_value="",
            description="RViz config used as is; empty: generated from the package's rviz/sam2_ros.rviz "
            "for the namespace and image topics",
        ),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_launch_setup)])
