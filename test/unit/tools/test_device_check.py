"""``sam2-ros-device-check``: the one-command check of sam2_ros on a Qualcomm device.

It runs here with the ``qnn`` backend on the HTP simulator and with the ``aidlite`` backend on
the test double of APLUX's module, on the small 128 px model (``model_qnn``). Wrong-arch
binaries, missing runtimes and runtime errors must end in a clear message, a nonzero exit code
and a report that still follows its schema. As a program (``python -m``, the console script):
test/process/tools/test_device_check_process.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sam2_ros.engine.manifest import load_model_dir
from sam2_ros.tools.device import check as device_check
from sam2_ros.tools.device.hints import diagnose
from sam2_ros.tools.device.platform import arch_problem, describe_platform, read_soc
from sam2_ros.tools.device.report import REPORT_SCHEMA, format_report, validate

QUICK = ["--runs", "2", "--frames", "2", "-q"]


def run(tmp_path: Path, *args: str) -> tuple[dict, int, str]:
    """Run the check in-process; the report as written to disk, the exit code, the printed text."""
    out = tmp_path / "report.json"
    report, code, where = device_check.run_check([*args, "--output", str(out)])
    assert where == str(out)
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(report)), "the file holds the report"
    assert validate(written, REPORT_SCHEMA) == [], validate(written, REPORT_SCHEMA)
    assert written["exit_code"] == code and written["status"] == ("passed" if code == 0 else "failed")
    return written, code, format_report(written)


def fake_device(root: Path, machine: str | None = None, soc_id: str | None = None, cpuinfo: str = "") -> Path:
    """A directory laid out like a device's /sys, /proc and /etc."""
    soc = root / "sys" / "devices" / "soc0"
    soc.mkdir(parents=True)
    if machine:
        (soc / "machine").write_text(machine + "\n")
    if soc_id:
        (soc / "soc_id").write_text(soc_id + "\n")
    (soc / "family").write_text("Snapdragon\n")
    (root / "proc").mkdir()
    (root / "proc" / "cpuinfo").write_text(cpuinfo)
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n')
    return root


# ---------------------------------------------------------------------------- no model needed
def test_platform_detection_reads_the_soc_and_is_honest_when_it_cannot(tmp_path):
    assert read_soc(fake_device(tmp_path / "a", machine="QCS6490"))["htp_arch"] == 68
    by_id = read_soc(fake_device(tmp_path / "b", soc_id="603"))
    assert (by_id["name"], by_id["htp_arch"], by_id["soc_model"]) == ("QCS8550", 73, 43)
    cpuinfo = "processor\t: 0\nHardware\t: Qualcomm Technologies, Inc SM8650\n"
    assert read_soc(fake_device(tmp_path / "c", cpuinfo=cpuinfo))["htp_arch"] == 75
    unknown = describe_platform(fake_device(tmp_path / "d", machine="SDM845", soc_id="321"))
    assert unknown["htp_arch"] is None and unknown["htp_arch_source"] == "unknown"
    assert unknown["soc"]["machine"] == "SDM845" and unknown["os"] == "Ubuntu 22.04.4 LTS"
    given = describe_platform(tmp_path / "d", htp_arch=73)
    assert (given["htp_arch"], given["htp_arch_source"]) == (73, "user (--htp-arch)")
    assert {"numpy", "onnxruntime", "onnxruntime-qnn", "aidlite"} <= set(given["packages"])


def test_arch_problem_names_both_archs_and_the_reexport():
    binaries = {"image_encoder": {"htp_arch": 73, "soc_model": 43}, "memory_encoder": {"htp_arch": 73}}
    assert arch_problem(binaries, 73) is None and arch_problem(binaries, None) is None
    problem, hint = arch_problem(binaries, 68)
    assert "HTP v73" in problem and "HTP v68" in problem and "soc_model 43" in problem
    assert "--target qnn" in hint and "--precision w8a8" in hint and "no fp16" in hint
    _, hint = arch_problem(binaries, 75)
    assert "--soc sm8650" in hint


@pytest.mark.parametrize(
    "error, kind",
    [
        (RuntimeError("QnnHtp: VTCM allocation of 8388608 bytes failed"), "vtcm"),
        (RuntimeError("Failed to deserialize context binary: incompatible SoC model / HTP arch"), "binary_mismatch"),
        (RuntimeError("QNN graph finalize failed: QNN_GRAPH_ERROR_GENERAL"), "graph_prepare"),
        (MemoryError("arch"), "out_of_memory"),
        (RuntimeError("QNN_COMMON_ERROR_MEM_ALLOC at graphFinalize"), "out_of_memory"),
        (RuntimeError("aidlite load_model() returned -2"), "load_failed"),
        (RuntimeError("/home/arch/models/x.bin could not be loaded: -1"), "load_failed"),  # words in paths
        (RuntimeError("failed to allocate VTCM"), "vtcm"),
    ],
)
def test_runtime_errors_get_a_kind_and_a_hint(error, kind):
    found = diagnose(error, "load_failed", "memory_attention")
    assert found["kind"] == kind and found["component"] == "memory_attention"
    assert found["hint"] and str(error).splitlines()[0] in found["message"] and type(error).__name__ in found["error"]


def test_unusable_model_dir_exits_2_with_a_report(tmp_path):
    report, code, text = run(tmp_path, str(tmp_path / "missing"), *QUICK)
    assert code == 2 and [f["kind"] for f in report["failures"]] == ["model_dir"]
    assert "model directory not found" in report["failures"][0]["message"]
    assert "FAILED (model_dir)" in text and "what to try:" in text


def test_report_to_stdout_puts_the_table_on_stderr(tmp_path, capsys):
    assert device_check.main([str(tmp_path / "missing"), "--output", "-", "-q"]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert validate(report, REPORT_SCHEMA) == [] and report["exit_code"] == 2
    assert "result: FAILED - report: stdout" in err


def test_schema_check_catches_broken_reports(tmp_path):
    report, _, _ = run(tmp_path, str(tmp_path / "missing"), *QUICK)
    broken = json.loads(json.dumps(report))
    del broken["platform"]["python"]
    broken["settings"]["runs"] = "2"
    broken["status"] = "fine"
    broken["failures"][0]["kind"] = "unknown"
    problems = validate(broken, REPORT_SCHEMA)
    assert any("platform: missing required key 'python'" in p for p in problems)
    assert any("settings.runs: expected integer" in p for p in problems)
    assert any("$.status" in p for p in problems) and any("failures[0].kind" in p for p in problems)
    assert validate({**report, "duration_s": float("nan")}, REPORT_SCHEMA)  # JSON has no NaN


# ---------------------------------------------------------------------------- on the model
def check_full_report(report: dict, model_dir: Path, frames: int = 2) -> None:
    """Every component has timings and passes; memory attention had a full bank; end to end agrees."""
    manifest, _ = load_model_dir(model_dir)
    rows = {row["name"]: row for row in report["components"]}
    assert list(rows) == list(manifest.components)
    for name, row in rows.items():
        assert row["status"] == "passed", (name, row)
        assert row["load_s"] > 0 and row["first_run_s"] > 0, name
        assert row["steady"]["runs"] == 2 and 0 < row["steady"]["median_s"] <= row["steady"]["p90_s"], name
        check = row["correctness"]
        assert check["checked"] and check["passed"] and set(check["outputs"]) == {t.name for t in manifest.components[
            name].outputs}, name  # fmt: skip
        assert check["max_relative_error"] <= check["tolerance"], name
    bank = rows["memory_attention"]["bank"]
    assert bank["full"] and bank["memories"] == bank["memory_slots"] == 7
    assert rows["memory_attention"]["input"]["frame"] >= 7
    assert rows["mask_decoder.points4"]["input"]["frame"] == 0  # the box-and-two-clicks prompt
    e2e = report["end_to_end"]
    assert e2e["status"] == "passed" and e2e["frames"] == frames and len(e2e["device_frame_s"]) == frames
    assert len(e2e["agreement"]) == frames and e2e["agreement_min"] >= e2e["min_agreement_required"]
    assert e2e["objects"] == 2 and e2e["device_median_s"] > 0 and e2e["cpu_median_s"] > 0
    assert report["model"]["reference"] == str(model_dir) and report["failures"] == []


def test_device_check_through_the_aidlite_double(model_qnn, aidlite, tmp_path, capsys):
    report, code, text = run(tmp_path, str(model_qnn.model_dir), *QUICK)  # aidlite: the default where it imports
    assert code == 0, report["failures"]
    assert report["settings"]["backend"] == "aidlite" and report["backend"].startswith("aidlite (TYPE_QNN, dsp)")
    check_full_report(report, model_qnn.model_dir)
    # the double computes in fp32 with the ONNX files: exactly the CPU's results
    assert all(row["correctness"]["max_relative_error"] == 0.0 for row in report["components"])
    assert report["end_to_end"]["agreement"] == [1.0, 1.0]
    printed = capsys.readouterr().out
    assert "memory_attention (full bank)" in printed and "result: PASSED" in printed
    names = [name for name, _ in aidlite.calls]
    assert names.count("load_model") == len(report["components"])  # each component loaded once
    # the docs' on-device table is filled from such reports
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    capsys.readouterr()
    assert device_check.main(["--docs-table", str(path), str(path)]) == 0
    header, separator, *rows = capsys.readouterr().out.strip().splitlines()
    assert header.startswith("| date | SoC (HTP) | backend |") and len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert len(cells) == header.count("|") - 1 == separator.count("---")
    encoder = next(r for r in report["components"] if r["name"] == "image_encoder")
    assert cells[2] == "aidlite" and cells[4] == f"{encoder['steady']['median_s'] * 1e3:.1f}" and cells[-1] == "passed"
    path.write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(SystemExit):  # not a device-check report: refused, with what is missing
        device_check.main(["--docs-table", str(path)])


@pytest.mark.simulator
def test_device_check_on_the_htp_simulator(model_qnn, tmp_path, capsys):
    report, code, _ = run(tmp_path, str(model_qnn.model_dir), "--backend", "qnn", *QUICK)
    assert code == 0, report["failures"]
    check_full_report(report, model_qnn.model_dir)
    assert report["platform"]["simulator"] and any("simulator" in note for note in report["notes"])
    # fp16 on the simulator: rounding shows, within the fp16 tolerance
    assert all(0.0 < row["correctness"]["max_relative_error"] <= 2e-2 for row in report["components"])
    print(capsys.readouterr().out)  # the table, for the log


@pytest.mark.parametrize("how", ["--htp-arch", "soc table"])
def test_wrong_arch_binaries_are_refused_before_loading(model_qnn, aidlite, tmp_path, how):
    args = ["--htp-arch", "68"] if how == "--htp-arch" else ["--root", str(fake_device(tmp_path / "dev", "QCS6490"))]
    report, code, text = run(tmp_path, str(model_qnn.model_dir), *args, *QUICK)
    assert code == 1 and [f["kind"] for f in report["failures"]] == ["wrong_arch"]
    message, hint = report["failures"][0]["message"], report["failures"][0]["hint"]
    assert "HTP v73" in message and "HTP v68" in message and "--target qnn" in hint and "--precision w8a8" in hint
    assert report["platform"]["htp_arch"] == 68 and report["components"] == []
    assert not [call for call in aidlite.calls if call[0] == "Model.create_instance"], "nothing may be loaded"
    assert "FAILED (wrong_arch)" in text
    report, code, _ = run(tmp_path, str(model_qnn.model_dir), *args, "--no-arch-check", "--skip-e2e", *QUICK)
    assert code == 0 and any("--no-arch-check" in note for note in report["notes"])  # the double loads any arch


def test_matching_arch_passes_the_check(model_qnn, aidlite, tmp_path):
    root = fake_device(tmp_path / "dev", machine="QCS8550", soc_id="603")
    report, code, _ = run(tmp_path, str(model_qnn.model_dir), "--root", str(root), "--skip-e2e", *QUICK)
    assert code == 0 and report["platform"]["soc"]["name"] == "QCS8550" and report["platform"]["htp_arch"] == 73
    assert report["end_to_end"]["status"] == "skipped" and report["end_to_end"]["note"] == "--skip-e2e"


@pytest.mark.parametrize(
    "backend, module, says",
    [("aidlite", "aidlite", "AidLite SDK"), ("qnn", "onnxruntime_qnn", "needs onnxruntime-qnn")],
)
def test_missing_runtime_says_what_to_install(model_qnn, tmp_path, monkeypatch, backend, module, says):
    monkeypatch.setitem(sys.modules, module, None)  # import -> ImportError
    report, code, text = run(tmp_path, str(model_qnn.model_dir), "--backend", backend, *QUICK)
    assert code == 1 and report["status"] == "failed"
    assert [f["kind"] for f in report["failures"]] == ["runtime_missing"]
    assert says in report["failures"][0]["message"] and "install" in report["failures"][0]["hint"]
    assert report["components"] == [] and "FAILED (runtime_missing)" in text


def test_a_runtime_error_names_the_component_and_what_to_try(model_qnn, aidlite, tmp_path, monkeypatch):
    original = aidlite.Interpreter.load_model

    def load_model(self):
        if "memory_attention" in str(self.model.path):
            raise RuntimeError("QnnHtp graph prepare: VTCM requirement 9 MB exceeds 8 MB")
        return original(self)

    monkeypatch.setattr(aidlite.Interpreter, "load_model", load_model)
    report, code, text = run(tmp_path, str(model_qnn.model_dir), *QUICK)
    assert code == 1
    (found,) = report["failures"]
    assert (found["kind"], found["component"]) == ("vtcm", "memory_attention") and "VTCM" in found["hint"]
    rows = {row["name"]: row for row in report["components"]}
    assert rows["memory_attention"]["status"] == "failed" and rows["memory_attention"]["load_s"] is None
    assert rows["image_encoder"]["status"] == "passed"  # the others are still measured
    assert report["end_to_end"]["status"] == "skipped" and "failed to load" in report["end_to_end"]["note"]
    assert "FAILED [memory_attention] (vtcm)" in text


def test_accuracy_failure_is_reported(model_qnn, aidlite, tmp_path, monkeypatch):
    original = aidlite.Interpreter.get_output_tensor

    def get_output_tensor(self, index):
        out = original(self, index)
        if out is None or "memory_encoder" not in str(self.model.path):
            return out
        return out * np.float32(1.1) + np.float32(1.0)  # off by at least 10% of max(1, |fp32|)

    monkeypatch.setattr(aidlite.Interpreter, "get_output_tensor", get_output_tensor)
    report, code, _ = run(tmp_path, str(model_qnn.model_dir), "--skip-e2e", *QUICK)
    assert code == 1 and [f["kind"] for f in report["failures"]] == ["correctness"]
    rows = {row["name"]: row for row in report["components"]}
    assert rows["memory_encoder"]["status"] == "failed" and rows["memory_encoder"]["correctness"]["passed"] is False
    assert "memory_encoder (fp16) differs from fp32" in report["failures"][0]["message"]


def test_bin_only_directory_runs_and_takes_a_reference(model_qnn, aidlite, tmp_path):
    """Binaries from elsewhere (sam2-ros-qnn-manifest): no ONNX, so no accuracy check unless --reference."""
    import shutil

    from sam2_ros.export.bins import main as qnn_manifest_main

    bins = tmp_path / "farm"
    bins.mkdir()
    for binary in (model_qnn.model_dir / "models").glob("*.bin"):
        shutil.copy(binary, bins)
    target = tmp_path / "bin_only"
    assert qnn_manifest_main(["--like", str(model_qnn.model_dir), "--bins", str(bins), "--output", str(target)]) == 0
    manifest, _ = load_model_dir(target)
    for spec in manifest.components.values():  # the double computes with the ONNX files they were compiled from
        aidlite.sources[(target / spec.qnn.context_binary).resolve()] = model_qnn.model_dir / f"{spec.name}.onnx"

    report, code, text = run(tmp_path, str(target), *QUICK)
    assert code == 0, report["failures"]
    assert any("no fp32 ONNX files" in note and "--reference" in note for note in report["notes"])
    for row in report["components"]:
        assert row["status"] == "passed" and row["steady"]["runs"] == 2 and not row["correctness"]["checked"]
    assert report["components"][2]["name"] == "memory_attention" and report["components"][2]["bank"]["full"]
    e2e = report["end_to_end"]  # the device run that recorded the inputs: 8 frames fill the bank
    assert e2e["frames"] == 8 and e2e["agreement"] == [] and "not measured" in e2e["note"]

    report, code, _ = run(tmp_path, str(target), "--reference", str(model_qnn.model_dir), *QUICK)
    assert code == 0 and report["model"]["reference"] == str(model_qnn.model_dir)
    assert all(row["correctness"]["passed"] for row in report["components"])
    assert report["end_to_end"]["agreement"] == [1.0, 1.0]


def test_a_reference_with_another_interface_is_refused(model_qnn, aidlite, tmp_path):
    import shutil

    import yaml

    other = tmp_path / "other"
    shutil.copytree(model_qnn.model_dir, other)
    raw = yaml.safe_load((other / "model.yaml").read_text())
    raw["components"]["memory_attention"]["inputs"][2]["shape"][1] += 1
    (other / "model.yaml").write_text(yaml.safe_dump(raw))
    report, code, _ = run(tmp_path, str(model_qnn.model_dir), "--reference", str(other), *QUICK)
    assert code == 2 and [f["kind"] for f in report["failures"]] == ["model_dir"]
    assert "memory_attention have other inputs or outputs" in report["failures"][0]["message"]
    assert not [call for call in aidlite.calls if call[0] == "Model.create_instance"]
