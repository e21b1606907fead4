"""The RViz config the launch file starts RViz with, generated from ``rviz/sam2_ros.rviz``.

The template holds one display set (camera image, and the outputs the node's outputs table marks
``rviz``: overlay, mask, 3D markers) on the relative topics ``image``, ``overlay``, ``mask`` and
``markers``; the generated config holds one set per image stream, on the absolute topics the node
really uses in its namespace (sam2_ros/tools/launch_support.py).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sam2_ros.node.outputs import OUTPUTS
from sam2_ros.node.params import stream_name
from sam2_ros.tools.launch_support import output_topic, resolve_topic

SHOWN = tuple(output.kind for output in OUTPUTS if output.rviz)  # the node's outputs RViz shows
# the template's display of each kind, found by its topic (an output's display: on its kind)
TEMPLATE_TOPICS: dict[str, str] = {"camera": "image", **{kind: kind for kind in SHOWN}}


@dataclass(frozen=True)
class StreamTopics:
    """One stream's displayed topics, absolute: ``camera`` and ``outputs`` (kind -> topic)."""

    name: str  # the node's stream name (sam2_ros.node.params.stream_name)
    camera: str
    outputs: dict[str, str]

    def topic(self, kind: str) -> str:
        """The topic of display ``kind`` (``camera`` or an output kind)."""
        return self.camera if kind == "camera" else self.outputs[kind]


def stream_topics(image_topics: Sequence[str], namespace: str) -> list[StreamTopics]:
    """The camera topic and shown output topics of each stream of a node with these image topics in ``namespace``."""
    return [
        StreamTopics(
            name=stream_name(topic),
            camera=resolve_topic(topic, namespace),
            outputs={kind: output_topic(namespace, image_topics, topic, kind) for kind in SHOWN},
        )
        for topic in image_topics
    ]


def _template_displays(config: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The template's displays, and the one of each kind in ``TEMPLATE_TOPICS``, in the template's order."""
    displays = config["Visualization Manager"]["Displays"]
    by_topic = {d.get("Topic", {}).get("Value"): d for d in displays if isinstance(d.get("Topic"), dict)}
    missing = [topic for topic in TEMPLATE_TOPICS.values() if topic not in by_topic]
    if missing:
        raise ValueError(f"the RViz template has no display on the topic(s) {missing}")
    kinds = sorted(TEMPLATE_TOPICS, key=lambda kind: displays.index(by_topic[TEMPLATE_TOPICS[kind]]))
    return displays, {kind: by_topic[TEMPLATE_TOPICS[kind]] for kind in kinds}


def build_config(template: dict[str, Any], streams: Sequence[StreamTopics]) -> dict[str, Any]:
    """``template`` with its camera/overlay/mask/markers displays repeated per stream, on that stream's topics.

    The template's other displays stay as they are; with several streams each display's name
    ends in ``[<stream name>]``. Each display keeps the template's QoS settings.
    """
    config = copy.deepcopy(template)
    displays, kinds = _template_displays(config)
    templated = {id(d) for d in kinds.values()}
    generated: list[dict[str, Any]] = []
    for stream in streams:
        for kind, template_display in kinds.items():
            display = copy.deepcopy(template_display)
            display["Topic"]["Value"] = stream.topic(kind)
            if len(streams) > 1:
                display["Name"] = f"{template_display['Name']} [{stream.name}]"
            generated.append(display)
    first = min(i for i, d in enumerate(displays) if id(d) in templated)
    others = [d for d in displays if id(d) not in templated]
    config["Visualization Manager"]["Displays"] = others[:first] + generated + others[first:]
    return config


def write_config(template_path: str | Path, image_topics: Sequence[str], namespace: str,
                 directory: str | Path | None = None) -> Path:  # fmt: skip
    """Write the generated config for these image topics and namespace; its path.

    ``directory`` defaults to a new temporary directory (left for RViz to read while it runs).
    """
    with open(template_path) as handle:
        template = yaml.safe_load(handle)
    config = build_config(template, stream_topics(image_topics, namespace))
    folder = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="sam2_ros_rviz_"))
    path = folder / "sam2_ros.rviz"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
