"""Launch sam2_ros_node (a lifecycle node that configures and activates itself) and, optionally, RViz.

    ros2 launch sam2_ros sam2_ros.launch.py model_dir:=/path/to/model image_topics:="['/camera/image_raw']"

Parameters come from `params_file` (default: the package's config/sam2_ros.yaml); the
arguments below override it. Defaults of everything else: sam2_ros/node/params.py.
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("sam2_ros")
    arguments = [
        DeclareLaunchArgument("model_dir", description="model directory written by sam2-ros-export"),
        DeclareLaunchArgument(
            "backend", default_value="onnxruntime", description="inference backend: onnxruntime, qnn or aidlite"
        ),
        DeclareLaunchArgument(
            "aidlite_accelerator", default_value="dsp", description="with backend aidlite: dsp, cpu or gpu"
        ),
        DeclareLaunchArgument(
            "image_topics", default_value="['image']", description="YAML list of camera image topics"
        ),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([share, "config", "sam2_ros.yaml"]),
            description="parameters file",
        ),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz with the overlay"),
        DeclareLaunchArgument(
            "rviz_config",
            default_value=PathJoinSubstitution([share, "rviz", "sam2_ros.rviz"]),
            description="RViz config",
        ),
    ]
    node = LifecycleNode(
        package="sam2_ros",
        executable="sam2_ros_node",
        name="sam2_ros",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model_dir": ParameterValue(LaunchConfiguration("model_dir"), value_type=str),
                "backend": ParameterValue(LaunchConfiguration("backend"), value_type=str),
                "aidlite_accelerator": ParameterValue(LaunchConfiguration("aidlite_accelerator"), value_type=str),
                "image_topics": ParameterValue(LaunchConfiguration("image_topics")),
            },
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", LaunchConfiguration("rviz_config")],
        condition=IfCondition(LaunchConfiguration("rviz")),
        output="screen",
    )
    return LaunchDescription([*arguments, node, rviz])
