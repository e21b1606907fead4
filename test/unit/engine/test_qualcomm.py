"""Qualcomm deployment: the QNN export, the ``qnn`` backend on the HTP simulator, and the
``aidlite`` backend against a test double of APLUX's ``aidlite`` module.

The model is the small 128 px architecture with seeded random weights (``model_qnn``), so the
HTP simulator (slow: seconds per frame) stays within CI's time.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from parity_harness import LOGIT_TOL, run_scenario

from sam2_ros.clips.synthetic import generate_clip
from sam2_ros.engine import Sam2Tracker
from sam2_ros.engine.backends import create_backend
from sam2_ros.engine.errors import BackendError, InvalidInputError
from sam2_ros.engine.manifest import load_model_dir, sha256_of
from sam2_ros.engine.runner import ModelRunner

# fp16 on the HTP against fp32 on the CPU: largest absolute difference, relative to max(1, |fp32|).
FP16_TOLERANCE = 2e-2


def component_inputs(model_dir, names=("memory_encoder", "mask_decoder.points1", "mask_decoder.points2")):
    """Realistic inputs per component: the image encoder's outputs on a synthetic frame (CPU)."""
    runner = ModelRunner.load(model_dir, threads=2)
    clip = generate_clip(1000, num_frames=1, height=128, width=128, num_objects=1)
    f = runner.encode_image(clip.frames[0], 0)
    rng = np.random.default_rng(0)
    shared = {"image_embeddings": f.embeddings, "high_res_feats_0": f.high_res_0, "high_res_feats_1": f.high_res_1}
    feeds = {
        "memory_encoder": {
            "image_embeddings": f.embeddings,
            "mask_for_memory": clip.masks[1][0][None, None] * 20.0 - 10.0,
        }
    }
    for n in (1, 2):
        feeds[f"mask_decoder.points{n}"] = {
            **shared,
            "point_coords": rng.uniform(0, 128, size=(1, n, 2)),
            "point_labels": np.array([[1, 0][:n]], np.float32),
            "mask_input": np.zeros((1, 1, 32, 32), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
        }
    return {k: {n: np.asarray(v, np.float32) for n, v in feeds[k].items()} for k in names}


def test_qnn_export_lists_context_binaries(model_qnn):
    manifest, _ = load_model_dir(model_qnn.model_dir)  # verifies every listed file's SHA-256
    assert manifest.decoder_points() == [1, 2, 3, 4]
    for name, spec in manifest.components.items():
        assert spec.qnn is not None, name
        assert spec.qnn.context_binary == f"models/{name}.bin" and spec.qnn.precision == "fp16"
        assert (spec.qnn.soc_model, spec.qnn.htp_arch) == (43, 73)
        assert sha256_of(model_qnn.model_dir / spec.qnn.context_binary) == spec.qnn.context_binary_sha256
        for tensor in (*spec.inputs, *spec.outputs):
            assert all(isinstance(d, int) for d in tensor.shape) and tensor.dtype == "float32", (name, tensor)


@pytest.mark.simulator
def test_qnn_components_match_cpu_within_fp16_tolerance(model_qnn):
    manifest, _ = load_model_dir(model_qnn.model_dir)
    cpu, htp = create_backend("onnxruntime", threads=2), create_backend("qnn")
    for name, feeds in component_inputs(model_qnn.model_dir).items():
        spec = manifest.components[name]
        want = cpu.load(model_qnn.model_dir, spec).run(feeds)
        got = htp.load(model_qnn.model_dir, spec).run(feeds)
        errors = []
        for out in spec.outputs:
            scale = max(1.0, float(np.abs(want[out.name]).max()))
            errors.append(float(np.abs(got[out.name] - want[out.name]).max()))
            assert errors[-1] <= FP16_TOLERANCE * scale, (name, out.name, errors[-1])
        assert max(errors) > 0.0, f"{name}: the simulator should show fp16 rounding, not fp32 results"


@pytest.mark.simulator
def test_engine_tracks_on_the_htp_simulator(model_qnn):
    clip = generate_clip(1001, num_frames=3, height=120, width=160, num_objects=2)
    runs = {}
    for backend in ("onnxruntime", "qnn"):
        tracker = Sam2Tracker.from_model_dir(model_qnn.model_dir, backend=backend, threads=2)
        results = []
        for t, frame in enumerate(clip.frames):
            result = tracker.track(frame)
            if t == 0:
                tracker.add_prompt(1, points=[clip.first_visible_point(1)], labels=[1])
                result = tracker.add_prompt(2, box=clip.box(2))
            results.append(result)
        runs[backend] = results
    for cpu, htp in zip(runs["onnxruntime"], runs["qnn"]):
        for obj_id, want in cpu.objects.items():
            got = htp.objects[obj_id]
            scale = max(1.0, float(np.abs(want.low_res_logits).max()))
            assert float(np.abs(got.low_res_logits - want.low_res_logits).max()) <= FP16_TOLERANCE * scale
            assert (got.low_res_logits > 0).mean() == pytest.approx((want.low_res_logits > 0).mean(), abs=0.01)


def test_static_model_refuses_a_prompt_larger_than_its_decoders(model_qnn):
    clip = generate_clip(1002, num_frames=1, height=120, width=160, num_objects=1)
    tracker = Sam2Tracker.from_model_dir(model_qnn.model_dir, threads=2)
    tracker.track(clip.frames[0])
    p = clip.first_visible_point(1)
    with pytest.raises(InvalidInputError, match="decoder-points 1,2,3,4,5"):
        tracker.add_prompt(1, points=[p] * 3, labels=[1, 1, 1], box=clip.box(1))
    tracker.add_prompt(1, points=[p], labels=[1])  # the state is intact and smaller prompts work


def test_aidlite_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "aidlite", None)  # import aidlite -> ImportError
    with pytest.raises(BackendError, match="AidLite SDK.*install"):
        create_backend("aidlite")


def test_aidlite_backend_follows_the_call_sequence(model_qnn, aidlite):
    manifest, _ = load_model_dir(model_qnn.model_dir)
    spec = manifest.components["memory_encoder"]
    feeds = component_inputs(model_qnn.model_dir, ("memory_encoder",))["memory_encoder"]
    component = create_backend("aidlite", options={"accelerator": "dsp"}).load(model_qnn.model_dir, spec)
    got = component.run(feeds)
    names = [name for name, _ in aidlite.calls]
    assert names == [
        "Config.create_instance", "Model.create_instance", "set_model_properties",
        "build_interpretper_from_model_and_config", "init", "load_model",
        "set_input_tensor", "set_input_tensor", "invoke", "get_output_tensor", "get_output_tensor",
    ]  # fmt: skip
    assert aidlite.calls[1][1].endswith("models/memory_encoder.bin")
    input_shapes, in_type, output_shapes, _ = aidlite.calls[2][1]
    assert input_shapes == [list(t.shape) for t in spec.inputs] and in_type is aidlite.DataType.TYPE_FLOAT32
    assert output_shapes == [list(t.shape) for t in spec.outputs]
    want = create_backend("onnxruntime", threads=2).load(model_qnn.model_dir, spec).run(feeds)
    for out in spec.outputs:
        assert got[out.name].shape == tuple(out.shape)
        np.testing.assert_array_equal(got[out.name], want[out.name])
    component.close()
    assert aidlite.calls[-1][0] == "destory"


def record_aidlite_configs(aidlite, monkeypatch) -> list:
    """The list that the double's interpreter builder appends each Config it is given to."""
    built = []
    original = aidlite.InterpreterBuilder.build_interpretper_from_model_and_config
    monkeypatch.setattr(
        aidlite.InterpreterBuilder,
        "build_interpretper_from_model_and_config",
        staticmethod(lambda m, c: built.append(c) or original(m, c)),
    )
    return built


def test_aidlite_config_comes_from_manifest_and_options(model_qnn, aidlite, monkeypatch):
    built = record_aidlite_configs(aidlite, monkeypatch)
    manifest, _ = load_model_dir(model_qnn.model_dir)
    create_backend("aidlite", options={"accelerator": "gpu"}).load(
        model_qnn.model_dir, manifest.components["memory_encoder"]
    )
    config = built[0]
    assert config.implement_type is aidlite.ImplementType.TYPE_LOCAL
    assert config.framework_type is aidlite.FrameworkType.TYPE_QNN
    assert config.accelerate_type is aidlite.AccelerateType.TYPE_GPU
    assert config.is_quantify_model == 0  # fp16 binaries
    with pytest.raises(BackendError, match="accelerator"):
        create_backend("aidlite", options={"accelerator": "npu"})


def test_aidlite_double_enforces_the_contract(model_qnn, aidlite):
    """The double is only useful if it refuses what the real runtime refuses."""
    manifest, _ = load_model_dir(model_qnn.model_dir)
    spec = manifest.components["memory_encoder"]
    model = aidlite.Model.create_instance(str(model_qnn.model_dir / spec.qnn.context_binary))
    config = aidlite.Config.create_instance()
    assert aidlite.InterpreterBuilder.build_interpretper_from_model_and_config(model, config) is None  # no properties
    shapes_in, shapes_out = [list(t.shape) for t in spec.inputs], [list(t.shape) for t in spec.outputs]
    model.set_model_properties(shapes_in, aidlite.DataType.TYPE_FLOAT32, shapes_out, aidlite.DataType.TYPE_FLOAT32)
    assert aidlite.InterpreterBuilder.build_interpretper_from_model_and_config(model, config) is None  # no types set
    config.implement_type = aidlite.ImplementType.TYPE_LOCAL
    config.framework_type = aidlite.FrameworkType.TYPE_QNN
    config.accelerate_type = aidlite.AccelerateType.TYPE_DSP
    it = aidlite.InterpreterBuilder.build_interpretper_from_model_and_config(model, config)
    assert it.load_model() != 0  # before init
    assert it.init() == 0 and it.load_model() == 0
    good = [np.zeros(s, np.float32) for s in shapes_in]
    assert it.set_input_tensor(0, good[0].astype(np.float64)) != 0  # wrong dtype
    assert it.set_input_tensor(0, good[0].reshape(-1)[:-1]) != 0  # wrong size
    assert it.set_input_tensor(5, good[0]) != 0  # index out of range
    assert it.set_input_tensor(0, good[0]) == 0
    assert it.invoke() != 0  # an input is missing
    assert it.get_output_tensor(0) is None  # nothing invoked yet
    assert it.set_input_tensor(1, good[1]) == 0 and it.invoke() == 0
    out = it.get_output_tensor(0)
    assert out.ndim == 1 and out.dtype == np.float32 and out.size == np.prod(shapes_out[0])
    it.destory()
    assert it.invoke() != 0
    assert aidlite.Model.create_instance(str(model_qnn.model_dir / "models" / "missing.bin")) is None


def test_manifest_for_existing_binaries_runs_on_aidlite(model_qnn, aidlite, tmp_path):
    """A Model Farm-style folder of .bin files plus sam2-ros-qnn-manifest gives a .bin-only model directory."""
    import shutil

    from sam2_ros.export.bins import main as qnn_manifest_main

    bins = tmp_path / "farm" / "models"
    bins.mkdir(parents=True)
    for binary in (model_qnn.model_dir / "models").glob("*.bin"):
        shutil.copy(binary, bins)
    target = tmp_path / "bin_only"
    assert qnn_manifest_main(["--like", str(model_qnn.model_dir), "--bins", str(bins), "--output", str(target)]) == 0
    manifest, _ = load_model_dir(target)
    assert all(spec.file is None and spec.qnn is not None for spec in manifest.components.values())
    assert sorted(p.name for p in (target / "models").iterdir()) == sorted(p.name for p in bins.iterdir())
    with pytest.raises(Exception, match="no ONNX file"):
        Sam2Tracker.from_model_dir(target, backend="onnxruntime")
    # the double computes with the ONNX files the binaries were compiled from
    for spec in manifest.components.values():
        aidlite.sources[(target / spec.qnn.context_binary).resolve()] = model_qnn.model_dir / f"{spec.name}.onnx"
    tracker = Sam2Tracker.from_model_dir(target, backend="aidlite")
    clip = generate_clip(1003, num_frames=2, height=96, width=128, num_objects=1)
    tracker.track(clip.frames[0])
    tracker.add_prompt(1, box=clip.box(1))
    assert tracker.track(clip.frames[1]).objects[1].low_res_logits.shape == (32, 32)


def test_manifest_command_refuses_missing_and_foreign_binaries(model_qnn, tmp_path, capsys):
    from sam2_ros.export.bins import main as qnn_manifest_main

    bins = tmp_path / "bins"
    bins.mkdir()
    (bins / "image_encoder.bin").write_bytes(b"PK\x03\x04" + bytes(4096))  # a zip (PyTorch) file
    args = ["--like", str(model_qnn.model_dir), "--bins", str(bins), "--output", str(tmp_path / "out")]
    assert qnn_manifest_main(args) == 2
    err = capsys.readouterr().err
    assert "lacks binaries for" in err and "mask_decoder.points1" in err and "memory_attention" in err
    for spec in load_model_dir(model_qnn.model_dir)[0].components.values():
        if spec.name != "image_encoder":
            shutil_copy(model_qnn.model_dir / spec.qnn.context_binary, bins)
    assert qnn_manifest_main(args) == 2
    assert "image_encoder.bin is a zip/PyTorch archive" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def shutil_copy(src, dst):
    import shutil

    shutil.copy(src, dst)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            {0: [("points", 1, [(40.0, 50.0)], [1]), ("box", 2, (60.0, 20.0, 110.0, 90.0))]}, id="click_and_box"
        ),
        pytest.param(
            {0: [("points", 1, [(40.0, 50.0)], [1])], 3: [("points", 1, [(80.0, 60.0)], [0], True)]}, id="refine"
        ),
    ],
)
def test_parity_scenarios_pass_through_the_aidlite_double(model_qnn, aidlite, script):
    """Meta's predictor vs the engine running every component through the aidlite backend."""
    engine = Sam2Tracker.from_model_dir(model_qnn.model_dir, backend="aidlite")
    record = run_scenario(model_qnn, 10, script, seed=4, tracker=engine)
    assert record.steps >= 10 and record.max_logit_error <= LOGIT_TOL


@pytest.mark.simulator
def test_quantised_export_runs_on_the_htp_simulator(model_qnn, aidlite, tmp_path, monkeypatch):
    """--precision w8a16 (image encoder w8a8): QDQ graphs calibrated on synthetic clips, integer HTP graphs."""
    from sam2_ros.export.cli import main as export_main

    out = tmp_path / "w8a16"
    args = ["--checkpoint", str(model_qnn.checkpoint), "--config", model_qnn.config, "--target", "qnn"]
    args += ["--precision", "w8a16", "--component-precision", "image_encoder=w8a8", "--decoder-points", "1,2"]
    assert export_main([*args, "--output", str(out), "-q"]) == 0
    manifest, _ = load_model_dir(out)
    precisions = {name: spec.qnn.precision for name, spec in manifest.components.items()}
    assert precisions.pop("image_encoder") == "w8a8" and set(precisions.values()) == {"w8a16"}
    assert not list((out / "models").glob("*.qdq.onnx"))  # intermediate QDQ models are not left behind
    spec = manifest.components["memory_encoder"]
    feeds = component_inputs(model_qnn.model_dir, ("memory_encoder",))["memory_encoder"]
    want = create_backend("onnxruntime", threads=2).load(out, spec).run(feeds)
    got = create_backend("qnn").load(out, spec).run(feeds)
    for name, value in want.items():
        assert got[name].shape == value.shape
        # 16-bit activations: close to fp32, but not fp16-close (the quality cost is in docs/PERFORMANCE.md)
        assert float(np.abs(got[name] - value).max()) <= 0.25 * max(1.0, float(np.abs(value).max()))
    built = record_aidlite_configs(aidlite, monkeypatch)
    create_backend("aidlite").load(out, spec)
    assert built[0].is_quantify_model == 1
