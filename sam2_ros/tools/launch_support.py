"""The launch file's logic, free of launch and launch_ros so it is unit-tested anywhere.

Which parameter overrides a ``ros2 launch`` call passes (only the arguments the user gave), the
``image_topics`` argument's YAML list, what the parameters file sets for the node, the node's
namespace and topic names as ``launch_ros`` and the node resolve them, and whether an executable
the launch needs (RViz) is installed before anything starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from ament_index_python.packages import PackageNotFoundError, get_package_prefix
from rcl_interfaces.msg import ParameterType

from sam2_ros.node.params import SPECS
from sam2_ros.node.params import output_topic as node_output_topic

NODE_NAME = "sam2_ros"
# launch arguments that override the parameter of the same name when given (non-empty)
OVERRIDE_ARGUMENTS: tuple[str, ...] = (
    "model_dir",
    "backend",
    "aidlite_accelerator",
    "openvino_device",
    "openvino_precision",
    "image_topics",
    "depth_topics",
)

ParameterOverride = str | list[str]


def parse_image_topics(text: str, name: str = "image_topics") -> list[str]:
    """The ``image_topics`` (or ``depth_topics``: ``name``) argument: a YAML list of topic names
    (one bare name is a list of one)."""
    value = yaml.safe_load(text)
    topics = [value] if isinstance(value, str) else value
    if not isinstance(topics, list) or not topics:
        raise ValueError(f"{name} must be a YAML list of topic names, got {text!r}")
    if any(not isinstance(t, str) or not t.strip() for t in topics):
        raise ValueError(f"{name} must hold non-empty topic names, got {text!r}")
    topics = [t.strip() for t in topics]
    if len(set(topics)) != len(topics):
        raise ValueError(f"{name} must be distinct, got {text!r}")
    return topics


def overrides(arguments: Mapping[str, str]) -> dict[str, ParameterOverride]:
    """The parameters the given launch arguments set: only the non-empty ones, typed as declared.

    ``arguments`` maps launch argument names to their (string) values; names other than
    ``OVERRIDE_ARGUMENTS`` are ignored. String parameters stay strings (``model_dir:=123`` is the
    directory ``"123"``); ``image_topics`` and ``depth_topics`` become lists of strings.
    """
    result: dict[str, ParameterOverride] = {}
    for name in OVERRIDE_ARGUMENTS:
        text = arguments.get(name, "").strip()
        if not text:
            continue
        kind = SPECS[name].type
        if kind == ParameterType.PARAMETER_STRING_ARRAY:
            result[name] = parse_image_topics(text, name)
        elif kind == ParameterType.PARAMETER_STRING:
            result[name] = text
        else:  # a new override argument needs its conversion here
            raise TypeError(f"no conversion for launch argument {name} (parameter type {kind})")
    return result


def node_parameters(params_file: str, arguments: Mapping[str, str]) -> list[str | dict[str, ParameterOverride]]:
    """The node's ``parameters``: the params file, then a dict of the given overrides (if any)."""
    given = overrides(arguments)
    return [params_file, given] if given else [params_file]


def node_namespace(namespace: str, base: str | None = None) -> str:
    """The node's absolute namespace as launch_ros forms it (``base``: an enclosing PushRosNamespace)."""
    namespace = namespace.strip()
    if not namespace.startswith("/") and base:
        namespace = f"{base.strip('/')}/{namespace}"
    parts = [p for p in namespace.split("/") if p]
    return "/" + "/".join(parts)


def resolve_topic(topic: str, namespace: str, node_name: str = NODE_NAME) -> str:
    """``topic`` as the node resolves it: absolute as is, ``~/x`` private, else under ``namespace``."""
    ns = node_namespace(namespace).rstrip("/")
    if topic.startswith("/"):
        return topic
    if topic == "~" or topic.startswith("~/"):
        return f"{ns}/{node_name}{topic[1:]}".rstrip("/")
    return f"{ns}/{topic}"


def output_topic(namespace: str, image_topics: Sequence[str], image_topic: str, kind: str) -> str:
    """The node's ``kind`` topic (mask, overlay, tracked_objects) for the stream of ``image_topic``.

    One stream publishes ``<ns>/<kind>``; several publish ``<ns>/<stream_name>/<kind>``
    (:func:`sam2_ros.node.params.output_topic`, which the node uses too).
    """
    return resolve_topic(node_output_topic(image_topics, image_topic, kind), namespace)


def _node_key_pattern(key: str) -> re.Pattern[str]:
    """A parameters-file node key (``/**``, ``sam2_ros``, ``/*/sam2_ros``...) as a regular expression."""
    parts = [p for p in key.split("/") if p]
    body = ""
    for part in parts:
        if part == "**":
            body += r"(?:/[^/]+)*"
        elif part == "*":
            body += r"/[^/]+"
        else:
            body += "/" + re.escape(part)
    return re.compile(body or "/")


def _node_sections(tree: Any, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(node key, its ``ros__parameters``) of a parameters file, nested namespace keys joined, in file order."""
    if not isinstance(tree, dict):
        return []
    sections: list[tuple[str, dict[str, Any]]] = []
    for key, value in tree.items():
        if not isinstance(value, dict):
            continue
        path = f"{prefix}/{str(key).strip('/')}"
        params = value.get("ros__parameters")
        if isinstance(params, dict):
            sections.append((path, params))
        sections += _node_sections({k: v for k, v in value.items() if k != "ros__parameters"}, path)
    return sections


def file_parameters(params_file: str | Path, namespace: str, node_name: str = NODE_NAME) -> dict[str, Any]:
    """What ``params_file`` sets for the node ``<namespace>/<node_name>`` (later matching sections win)."""
    with open(params_file) as handle:
        tree = yaml.safe_load(handle)
    fqn = resolve_topic(node_name, namespace)
    result: dict[str, Any] = {}
    for key, params in _node_sections(tree):
        if _node_key_pattern(key).fullmatch(fqn):
            result.update(params)
    return result


def image_topics_for(image_topics_argument: str, params_file: str | Path | None, namespace: str) -> list[str]:
    """The node's image topics: the launch argument if given, else the params file's, else the default."""
    if image_topics_argument.strip():
        return parse_image_topics(image_topics_argument)
    if params_file:
        topics = file_parameters(params_file, namespace).get("image_topics")
        if isinstance(topics, list) and topics and all(isinstance(t, str) for t in topics):
            return [t.strip() for t in topics]
    return list(SPECS["image_topics"].default)


class MissingExecutableError(RuntimeError):
    """An executable that a launch argument asks for is not installed; raised before any action starts."""


def require_executable(package: str, executable: str, wanted_by: str) -> Path:
    """``<prefix>/lib/<package>/<executable>``, found as launch_ros finds a Node's executable (the
    ament index in ``AMENT_PREFIX_PATH``); else :class:`MissingExecutableError` with one line
    naming ``wanted_by`` (the launch argument that needs it) and what to do."""
    searched = os.environ.get("AMENT_PREFIX_PATH", "")
    try:
        path = Path(get_package_prefix(package)) / "lib" / package / executable
    except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH unset or empty
        missing = f"package '{package}' is not installed (not in AMENT_PREFIX_PATH={searched!r})"
    else:
        if path.is_file() and os.access(path, os.X_OK):
            return path
        missing = f"package '{package}' has no executable {path}"
    raise MissingExecutableError(
        f"{wanted_by} needs {executable}, but {missing}: install it (e.g. ros-$ROS_DISTRO-{package.replace('_', '-')}) "
        f"or launch without {wanted_by}; nothing was started"
    )
