"""The node's choice of Fast DDS transport for camera images (sam2_ros/node/transport.py), without
DDS: the shipped profile unless the user chose, and the shipped parameters the process tests rely
on (test/process/node/test_transport_process.py runs frames through it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from ros_harness import PARAMS_FILE

from sam2_ros.node import transport


def rmem_max(tmp_path: Path, value: int) -> Path:
    """A stand-in for /proc/sys/net/core/rmem_max holding ``value``."""
    path = tmp_path / "rmem_max"
    path.write_text(f"{value}\n")
    return path


def test_the_shipped_profile_is_applied_when_the_user_chose_nothing(tmp_path):
    env: dict[str, str] = {"ROS_DOMAIN_ID": "7"}
    choice = transport.apply_image_transport(env, cwd=tmp_path, rmem_max=rmem_max(tmp_path, 4194304))
    profile = Path(env[transport.PROFILE_ENV])
    assert profile == Path(__file__).resolve().parents[3] / "config" / "fastdds_image_input.xml"
    assert not choice.warning and str(profile) in choice.message
    # a Fast DDS profile: a default participant profile, readers on UDP only, big socket buffers
    ns = {"d": "http://www.eprosima.com"}
    root = ET.parse(profile).getroot()
    participant = root.find("d:profiles/d:participant", ns)
    assert participant is not None and participant.get("is_default_profile") == "true"
    locators = participant.findall("d:rtps/d:defaultUnicastLocatorList/d:locator/*", ns)
    assert [loc.tag.split("}")[1] for loc in locators] == ["udpv4"]
    sizes = [int(e.text) for e in root.iter("{http://www.eprosima.com}receiveBufferSize")]
    assert sizes == [transport.RECEIVE_BUFFER]


def test_a_low_socket_buffer_cap_is_a_warning_with_the_fix(tmp_path):
    env: dict[str, str] = {}
    choice = transport.apply_image_transport(env, cwd=tmp_path, rmem_max=rmem_max(tmp_path, 212992))
    assert transport.PROFILE_ENV in env  # applied all the same: its writers still gain the large segment
    assert choice.warning and f"sysctl -w net.core.rmem_max={transport.RECEIVE_BUFFER}" in choice.message
    assert transport.socket_buffer_limit(tmp_path / "missing") is None


@pytest.mark.parametrize(
    "setting",
    [
        ("FASTDDS_DEFAULT_PROFILES_FILE", "/etc/my_fastdds.xml"),
        ("FASTRTPS_DEFAULT_PROFILES_FILE", "/etc/my_fastrtps.xml"),
        ("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA"),
        ("FASTDDS_BUILTIN_TRANSPORTS", ""),
        ("RMW_IMPLEMENTATION", "rmw_cyclonedds_cpp"),
    ],
)
def test_a_users_own_setting_is_never_overridden(tmp_path, setting):
    env = dict([setting])
    choice = transport.apply_image_transport(env, cwd=tmp_path)
    assert env == dict([setting])
    assert f"{setting[0]}={setting[1]}" in choice.message


def test_a_profile_in_the_working_directory_is_the_users_choice(tmp_path):
    (tmp_path / "DEFAULT_FASTDDS_PROFILES.xml").write_text("<dds/>")
    env: dict[str, str] = {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}
    transport.apply_image_transport(env, cwd=tmp_path)
    assert env == {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}


def test_the_shipped_parameters_ask_for_best_effort_depth_1():
    """What the process tests below rely on: they start the node with this file and nothing else."""
    params = yaml.safe_load(PARAMS_FILE.read_text())["/**"]["ros__parameters"]
    assert params["input_reliability"] == "best_effort" and params["input_depth"] == 1
