"""A bad model directory fails at load with a message naming the problem."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from sam2_ros.engine import BackendError, ModelDirError, Sam2Tracker
from sam2_ros.engine.manifest import load_model_dir


@pytest.fixture
def model_copy(model_small, tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(model_small.model_dir, dst)
    return dst


def _edit_manifest(model_dir, edit):
    path = model_dir / "model.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))


def test_good_model_dir_loads(model_small):
    manifest, host = load_model_dir(model_small.model_dir)
    assert manifest.settings.image_size == 256
    assert not manifest.random_weights  # made from a checkpoint file
    assert manifest.source["checkpoint_sha256"]
    assert host["maskmem_tpos_enc"].shape == (7, 64)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelDirError, match="not found"):
        Sam2Tracker.from_model_dir(tmp_path / "nope")


def test_directory_without_manifest(tmp_path):
    with pytest.raises(ModelDirError, match="no model.yaml"):
        Sam2Tracker.from_model_dir(tmp_path)


def test_unsupported_manifest_version(model_copy):
    _edit_manifest(model_copy, lambda d: d.update(version=99))
    with pytest.raises(ModelDirError, match="version 99 is not supported"):
        Sam2Tracker.from_model_dir(model_copy)


def test_missing_component_file(model_copy):
    (model_copy / "memory_encoder.onnx").unlink()
    with pytest.raises(ModelDirError, match="memory_encoder.onnx' is missing"):
        Sam2Tracker.from_model_dir(model_copy)


def test_corrupt_component_fails_hash_check(model_copy):
    with open(model_copy / "mask_decoder.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelDirError, match="mask_decoder.onnx' does not match its SHA-256"):
        Sam2Tracker.from_model_dir(model_copy)


def test_missing_required_field(model_copy):
    _edit_manifest(model_copy, lambda d: d["settings"].pop("num_maskmem"))
    with pytest.raises(ModelDirError, match="settings"):
        Sam2Tracker.from_model_dir(model_copy)


def test_file_outside_directory_is_refused(model_copy):
    _edit_manifest(model_copy, lambda d: d["components"]["image_encoder"].update(file="../../etc/passwd"))
    with pytest.raises(ModelDirError, match="outside the model directory"):
        Sam2Tracker.from_model_dir(model_copy)


def test_host_tensor_with_wrong_shape(model_copy):
    with np.load(model_copy / "host_tensors.npz") as npz:
        tensors = dict(npz)
    tensors["maskmem_tpos_enc"] = tensors["maskmem_tpos_enc"][:5]
    np.savez(model_copy / "host_tensors.npz", **tensors)
    with pytest.raises(ModelDirError, match="maskmem_tpos_enc"):
        Sam2Tracker.from_model_dir(model_copy, verify_hashes=False)


def test_manifest_shapes_must_match_the_graph(model_copy):
    def edit(d):
        d["components"]["memory_encoder"]["inputs"][1]["shape"] = [1, 1, 512, 512]

    _edit_manifest(model_copy, edit)
    with pytest.raises(ModelDirError, match="mask_for_memory"):
        Sam2Tracker.from_model_dir(model_copy)


def test_unknown_backend(model_small):
    with pytest.raises(BackendError, match="unknown backend 'tensorrt'"):
        Sam2Tracker.from_model_dir(model_small.model_dir, backend="tensorrt")


def test_unknown_model_family_is_named(model_copy):
    _edit_manifest(model_copy, lambda d: d.update(model_family="sam3"))
    with pytest.raises(ModelDirError, match="model_family 'sam3' is not one this sam2_ros runs"):
        Sam2Tracker.from_model_dir(model_copy)


def test_family_without_one_of_its_components_is_named(model_copy):
    def edgetam_without_memory_encoder(data):
        data["model_family"] = "edgetam"
        del data["components"]["memory_encoder"]

    _edit_manifest(model_copy, edgetam_without_memory_encoder)
    with pytest.raises(ModelDirError, match="this EdgeTAM model directory has no component 'memory_encoder'"):
        Sam2Tracker.from_model_dir(model_copy)


def test_directory_from_before_model_family_is_sam2(model_copy):
    _edit_manifest(model_copy, lambda d: d.pop("model_family"))
    manifest, _ = load_model_dir(model_copy)
    assert manifest.model_family == "sam2" and manifest.settings.memory_tokens_per_frame == 16 * 16
