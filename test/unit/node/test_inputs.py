"""The command inputs table (sam2_ros/node/commands.py) against the docs and the parameters, and its
converters as the node calls them. Unit tests: no DDS."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from geometry_msgs.msg import Point
from sam2_ros.msg import Prompt

from sam2_ros.node.commands import INPUTS, AddPrompt, Click, Detections
from sam2_ros.node.conversions import ConversionError
from sam2_ros.node.params import SPECS

NODE_MD = Path(__file__).resolve().parents[3] / "docs" / "NODE.md"


def documented_inputs() -> dict[str, str]:
    """docs/NODE.md's topic table: each subscribed topic (one stream, image topic ``image``) -> its
    message type (``pkg/Type``)."""
    rows = re.findall(r"^\| ((?:`[\w/]+`(?:, )?)+) \(sub\) \| `([\w/]+)`", NODE_MD.read_text(), re.MULTILINE)
    return {name: msg_type for names, msg_type in rows for name in re.findall(r"`([\w/]+)`", names)}


def test_the_docs_topic_table_lists_every_command_input_with_its_type():
    documented = documented_inputs()
    for source in INPUTS:
        topics = (source.kind,) if source.topics is None else source.topics("image", lambda kind: kind)
        for topic in topics:
            assert documented.get(topic) == source.msg_type.replace("/msg/", "/"), (source.kind, topic)


def test_each_input_loads_its_type_and_is_turned_on_by_a_bool_parameter():
    assert len({source.kind for source in INPUTS}) == len(INPUTS)
    for source in INPUTS:
        assert source.message_class().__name__ == source.msg_type.rsplit("/", 1)[1]
        if source.enabled_by:
            assert isinstance(SPECS[source.enabled_by].default, bool), source.enabled_by


def test_the_converters_make_commands_for_their_stream():
    by_kind = {source.kind: source for source in INPUTS}
    prompt = Prompt(stream="cam", object_id=3, has_box=True, box=[1.0, 2.0, 5.0, 6.0])
    command, problems = by_kind["prompt"].convert(prompt, "")
    assert isinstance(command, AddPrompt) and command.stream == "cam" and problems == ()
    click, problems = by_kind["click"].convert(Point(x=4.0, y=5.0), "left")
    assert click == Click("left", 4.0, 5.0) and problems == ()
    with pytest.raises(ConversionError):
        by_kind["click"].convert(Point(x=math.nan, y=5.0), "left")
    import vision_msgs.msg as vm  # built into the venv by scripts/setup_env.sh

    array = vm.Detection2DArray()
    array.detections.append(vm.Detection2D())
    array.detections[0].bbox.size_x = array.detections[0].bbox.size_y = 4.0
    detections, problems = by_kind["detections"].convert(array, "left")
    assert isinstance(detections, Detections) and detections.stream == "left" and len(detections.detections) == 1
