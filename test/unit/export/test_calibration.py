"""Calibration on the user's own frames (``--calibration``): image folders, videos and rosbag2
recordings (written with rosbags from real rclpy messages by test/bag_harness.py), read
without rclpy; bad sources fail before any export work with exit code 2 and the reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from bag_harness import CHATTER, DEPTH, IMAGE, INFO, JPEG, PNG, rgb_frame, write_bag
from PIL import Image

from sam2_ros.engine.errors import ExportError
from sam2_ros.export.calibration import evenly, load_frames
from sam2_ros.export.cli import main as export_main


def _frames(count: int) -> list[np.ndarray]:
    return [np.full((48, 64, 3), (i * 20, 100, 255 - i * 20), np.uint8) for i in range(count)]


def test_image_folder_frames_spread_evenly(tmp_path):
    for i, frame in enumerate(_frames(10)):
        Image.fromarray(frame).save(tmp_path / f"f{i:02d}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    frames = load_frames(tmp_path, limit=4)
    assert evenly(10, 4) == [0, 3, 6, 9]
    assert [int(f[0, 0, 0]) for f in frames] == [0, 60, 120, 180] and frames[0].shape == (48, 64, 3)


def test_video_frames_are_rgb(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for frame in _frames(6):
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    frames = load_frames(path)
    assert len(frames) == 6
    assert np.abs(frames[5].astype(int) - _frames(6)[5]).max() <= 8  # MJPG keeps flat colours close


@pytest.mark.parametrize("storage", ["mcap", "db3"])
def test_rosbag_image_topics(tmp_path, storage):
    bag = write_bag(tmp_path / storage, storage)
    raw = load_frames(bag, topic=IMAGE)
    assert len(raw) == 5 and all(np.array_equal(f, rgb_frame(i)) for i, f in enumerate(raw))
    png = load_frames(bag, topic=PNG)
    assert all(np.array_equal(f, rgb_frame(i)) for i, f in enumerate(png))
    only_raw = write_bag(tmp_path / f"{storage}-one", storage, topics=(IMAGE, INFO))
    assert len(load_frames(only_raw)) == 5  # the only image topic, found by itself


def test_rosbag_with_several_image_topics_needs_one_named(tmp_path):
    bag = write_bag(tmp_path / "bag", "mcap", topics=(IMAGE, JPEG, INFO))
    with pytest.raises(ExportError, match="several image topics .*--calibration-topic"):
        load_frames(bag)
    with pytest.raises(ExportError, match="no image topic '/cam/depth_missing'"):
        load_frames(bag, topic="/cam/depth_missing")


def _export_fails(args: list[str], capsys) -> str:
    assert export_main(args) == 2
    return capsys.readouterr().err


def test_bad_sources_exit_2_before_the_export(tmp_path, capsys):
    common = ["--random-init", "0", "--config", "sam2.1_hiera_t", "--output", str(tmp_path / "out")]
    mixed = [*common, "--target", "openvino", "--precision", "mixed"]
    bag = write_bag(tmp_path / "no_images", "mcap", topics=(CHATTER, INFO))
    depth_only = write_bag(tmp_path / "depth_only", "db3", topics=(DEPTH,))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no Image or CompressedImage topic" in _export_fails([*mixed, "--calibration", str(bag)], capsys)
    assert "encoding '16UC1' is not rgb8" in _export_fails([*mixed, "--calibration", str(depth_only)], capsys)
    assert "no images" in _export_fails([*mixed, "--calibration", str(empty)], capsys)
    assert "no such file" in _export_fails([*mixed, "--calibration", str(tmp_path / "nope")], capsys)
    not_video = tmp_path / "notes.txt"
    not_video.write_text("hello")
    assert "no frames could be read" in _export_fails([*mixed, "--calibration", str(not_video)], capsys)
    assert "is for quantised precisions" in _export_fails([*common, "--calibration", str(empty)], capsys)
    assert "needs --calibration" in _export_fails([*mixed, "--calibration-topic", "/x"], capsys)
    assert not (tmp_path / "out").exists()


def test_calibration_samples_come_from_the_users_frames(model_small):
    """The quantisers' samples are the model's inputs on the user's frames (and not the synthetic clips)."""
    from sam2_ros.engine import image_ops
    from sam2_ros.engine.manifest import load_model_dir
    from sam2_ros.export.quantize import calibration_samples

    manifest, _ = load_model_dir(model_small.model_dir)
    frames = [rgb_frame(i) for i in range(8)]
    samples = calibration_samples(model_small.model_dir, manifest, frames)
    size = manifest.settings.image_size
    mean, std = np.asarray(manifest.pixel_mean, np.float32), np.asarray(manifest.pixel_std, np.float32)
    expected = [image_ops.preprocess(f, size, mean, std) for f in frames]
    assert len(samples["image_encoder"]) == len(frames)
    for got, want in zip(samples["image_encoder"], expected):
        np.testing.assert_array_equal(got["image"], want)
    assert len(samples["mask_decoder"]) >= 4  # the four prompts on each clip's first frame
    assert samples["memory_attention"]  # and the memory path tracked on


def test_openvino_int8_encoder_calibrates_on_the_users_frames(model_small):
    """NNCF's dataset for the int8 image encoder (precision mixed) is the user's frames, preprocessed."""
    from sam2_ros.engine import image_ops
    from sam2_ros.engine.manifest import load_model_dir
    from sam2_ros.export.openvino_int8 import calibration_frames

    manifest, _ = load_model_dir(model_small.model_dir)
    frames = [rgb_frame(i) for i in range(3)]
    got = calibration_frames(manifest, user_frames=frames)
    mean, std = np.asarray(manifest.pixel_mean, np.float32), np.asarray(manifest.pixel_std, np.float32)
    assert len(got) == 3
    for x, frame in zip(got, frames):
        np.testing.assert_array_equal(x, image_ops.preprocess(frame, manifest.settings.image_size, mean, std))
    assert len(calibration_frames(manifest)) == 32  # without: the synthetic clips
