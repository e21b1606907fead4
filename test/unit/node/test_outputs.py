"""The outputs table (sam2_ros/node/outputs.py) against what reads it, and the object book's
memory of what the outputs showed. Unit tests: no DDS."""

from __future__ import annotations

import re
from pathlib import Path

from sam2_ros.node.book import ObjectBook
from sam2_ros.node.outputs import DEPTH, OUTPUT_KINDS, OUTPUTS, VISION
from sam2_ros.tools import rviz_config
from sam2_ros.tools.bags import record

NODE_MD = Path(__file__).resolve().parents[3] / "docs" / "NODE.md"


def documented_outputs() -> dict[str, str]:
    """docs/NODE.md's topic table: each per-stream published topic -> its message type (``pkg/Type``)."""
    rows = re.findall(r"^\| `([\w/]+)` \(pub\) \| `([\w/]+)`", NODE_MD.read_text(), re.MULTILINE)
    return {name: msg_type for name, msg_type in rows if not name.startswith("/")}


def test_the_docs_topic_table_lists_every_output_with_its_type():
    table = {out.kind: out.msg_type.replace("/msg/", "/") for out in OUTPUTS}
    assert documented_outputs() == table


def test_every_output_type_can_be_loaded_and_has_a_unique_kind():
    assert len(set(OUTPUT_KINDS)) == len(OUTPUTS)
    for out in OUTPUTS:
        assert out.message_class().__name__ == out.msg_type.rsplit("/", 1)[1]


def test_what_each_output_needs():
    everything = {out.kind for out in OUTPUTS if out.available(vision=True, depth=True)}
    plain = {out.kind for out in OUTPUTS if out.available(vision=False, depth=False)}
    assert everything == set(OUTPUT_KINDS)
    assert plain == {"mask", "tracked_objects", "overlay"}
    assert {out.kind for out in OUTPUTS if DEPTH in out.needs} == {"markers", "tracked_detections_3d", "object_points"}
    assert {out.kind for out in OUTPUTS if VISION in out.needs} == {
        "tracked_detections",
        "label_info",
        "tracked_detections_3d",
    }
    assert {out.kind for out in OUTPUTS if out.on_demand} == {"overlay", "object_points"}
    (label_info,) = [out for out in OUTPUTS if out.kind == "label_info"]
    assert label_info.latched and label_info.qos.depth == 1


def test_the_recorder_and_rviz_read_the_table():
    assert set(record.OUTPUT_KINDS) == set(OUTPUT_KINDS)
    assert set(rviz_config.TEMPLATE_TOPICS) == {"camera", "overlay", "mask", "markers"}


def test_markers_of_a_removed_or_reset_object_are_deleted_on_the_next_frame():
    book = ObjectBook()
    book.add(1)
    book.add(2)
    assert book.show({1, 2}) == set()
    book.remove(1)
    assert 1 not in book and len(book) == 1 and book.new_id([2]) == 1  # a removed object holds no id
    assert book.show({2}) == {1}
    assert book.show({2}) == set()  # deleted once
    book.clear()
    assert len(book) == 0 and book.show(set()) == {2}


def test_the_label_map_is_published_first_and_again_only_when_it_changes():
    book = ObjectBook()
    assert book.label_map_changed(())  # the first frame always publishes one
    assert not book.label_map_changed(())
    book.add(1, "cup")
    assert book.label_map_changed(((1, "cup"),))
    assert not book.label_map_changed(((1, "cup"),))
    book.clear()  # the object is gone, its entry in the published map is remembered
    assert book.label_map_changed(())
    assert not book.label_map_changed(())
    book.add(1, "cup")
    assert book.label_map_changed(((1, "cup"),))
    book.remove(1)
    book.add(1, "cup")  # the same id again, with the same name: the published map still holds
    assert not book.label_map_changed(((1, "cup"),))


def test_new_ids_and_room_against_the_tracker():
    book = ObjectBook()
    book.add(1)
    assert book.new_id([2, 3]) == 4 and book.new_id(range(1, 256)) is None
    assert book.room([1, 2], 3) == 1 and book.room([1, 2, 3, 4], 3) == 0
