"""``sam2-ros-device-check``: does sam2_ros work on this Qualcomm device, and how fast? One command.

Run on the robot against a model directory exported with ``--target qnn`` (or a ``.bin``-only
directory from ``sam2-ros-qnn-manifest``):

1. reports the platform (SoC, HTP arch, OS, Python, AidLite / onnxruntime-qnn versions) and
   refuses binaries built for another HTP generation before loading anything;
2. loads every component with the chosen backend (``aidlite`` or ``qnn``), timing each load;
3. tracks a seeded synthetic clip with the fp32 ONNX files on the CPU, recording every
   component's inputs and outputs (memory attention: the call with the fullest bank);
4. per component, on those inputs: first-run time, then ``--runs`` steady runs (median, p90),
   and the largest error against fp32 relative to max(1, |fp32|), against a tolerance per
   precision;
5. tracks the same clip with the device backend: time per frame, and the fraction of mask
   pixels that agree with the CPU run;
6. prints a table and writes a JSON report (schema: :mod:`sam2_ros.tools.device.report`).

Exit codes: 0 all passed, 1 a check failed (runtime missing, wrong binary, a component, the
accuracy), 2 bad arguments or an unusable model directory. Every failure names what to try.
Imports neither torch nor rclpy: it runs where the node runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.clips.synthetic import SyntheticClip, generate_clip
from sam2_ros.engine.backends import create_backend
from sam2_ros.engine.errors import ModelDirError
from sam2_ros.engine.manifest import Manifest, load_model_dir
from sam2_ros.tools.device.hints import RUNTIME_HINTS, diagnose, failure
from sam2_ros.tools.device.measure import (
    TRACKED_OBJECTS,
    Clock,
    Probe,
    Sample,
    clip_prompts,
    compare_outputs,
    decoder_sizes,
    make_tracker,
    mask_agreement,
    seconds_summary,
    track_clip,
)
from sam2_ros.tools.device.platform import arch_problem, describe_platform, package_version
from sam2_ros.tools.device.report import REPORT_SCHEMA, SCHEMA_VERSION, docs_table, format_report, validate

TOOL = "sam2-ros-device-check"
BACKENDS = ("aidlite", "qnn")
DEFAULT_RUNS = 20
DEFAULT_FRAMES = 10
DEFAULT_SEED = 4_000_000  # apart from evaluation (< 1e6), training (1e6+) and calibration (3e6) seeds
CLIP_SIZE = (240, 320)  # height, width of the synthetic camera frames
# Largest error against fp32, relative to max(1, |fp32|), per precision (as test/unit/engine/test_qualcomm.py).
TOLERANCES = {"fp32": 1e-4, "fp16": 2e-2, "w8a16": 0.25, "int16": 0.25, "w8a8": 0.25, "int8": 0.25}
# Fraction of mask pixels that must agree with the CPU run, per precision (the lowest one present wins).
MIN_AGREEMENT = {"fp32": 0.999, "fp16": 0.98, "w8a16": 0.95, "int16": 0.95, "w8a8": 0.9, "int8": 0.9}


# ---------------------------------------------------------------------------- the check
class DeviceCheck:
    """One run of the device check; fills ``report`` and returns the exit code."""

    def __init__(self, args: argparse.Namespace, options: dict[str, Any], report: dict[str, Any]) -> None:
        self.args, self.options, self.report = args, options, report
        self.model_dir = Path(args.model_dir)
        self.clock = Clock()
        self.failures: list[dict] = report["failures"]
        self.notes: list[str] = report["notes"]

    def say(self, message: str) -> None:
        if not self.args.quiet:
            print(f"[device-check] {message}", file=sys.stderr, flush=True)

    # -- steps -------------------------------------------------------------------------------
    def run(self) -> int:
        args = self.args
        self.report["platform"] = facts = describe_platform(Path(args.root), args.htp_arch)
        if facts["simulator"] and args.backend == "qnn":
            self.notes.append("x86_64: the qnn backend runs Qualcomm's HTP simulator; its timings are not a chip's")
        table_arch = facts["soc"]["htp_arch"]
        if args.htp_arch is not None and table_arch is not None and table_arch != args.htp_arch:
            self.notes.append(f"--htp-arch {args.htp_arch} overrides v{table_arch} of {facts['soc']['name']}")
        loaded = self.load_model()
        if loaded is None:
            return 2
        manifest, host = loaded
        if args.no_arch_check:
            self.notes.append("--no-arch-check: the binaries' HTP arch was not compared with the device's")
        elif not self.arch_ok(facts["htp_arch"]):
            return 1
        try:
            backend = create_backend(args.backend, threads=args.threads, options=self.options)
        except Exception as exc:  # BackendError with the install hint, or a broken native library
            self.failures.append(
                failure("runtime_missing", f"backend {args.backend}: {exc}", RUNTIME_HINTS[args.backend])
            )
            return 1
        self.report["backend"] = backend.describe()
        reference = self.load_reference(manifest, host)
        if reference is False:
            return 2
        device = self.load_components(backend, manifest)
        self.measure(manifest, host, device, reference)
        return 1 if self.failures else 0

    def load_model(self) -> tuple[Manifest, dict[str, np.ndarray]] | None:
        try:
            manifest, host = load_model_dir(self.model_dir)
        except ModelDirError as exc:
            self.failures.append(
                failure(
                    "model_dir",
                    str(exc),
                    "point the tool at a model directory written by "
                    "`sam2-ros-export --target qnn` or `sam2-ros-qnn-manifest`",
                )
            )
            return None
        model = self.report["model"]
        model.update(image_size=manifest.settings.image_size, random_weights=manifest.random_weights)
        model["binaries"] = {
            name: {
                "precision": spec.qnn.precision if spec.qnn else "fp32",
                "htp_arch": spec.qnn.htp_arch if spec.qnn else None,
                "soc_model": spec.qnn.soc_model if spec.qnn else None,
                "context_binary": spec.qnn.context_binary if spec.qnn else None,
            }
            for name, spec in manifest.components.items()
        }
        missing = [name for name, spec in manifest.components.items() if spec.qnn is None]
        if missing:
            self.failures.append(
                failure(
                    "model_dir",
                    f"{self.model_dir} has no QNN context binaries for {', '.join(missing)}",
                    "export it with `sam2-ros-export ... --target qnn`",
                )
            )
            return None
        if manifest.random_weights:
            self.notes.append("the model has random weights: its masks carry no meaning (the check still holds)")
        return manifest, host

    def arch_ok(self, device_arch: int | None) -> bool:
        """False (with a wrong_arch failure) when the binaries are built for another HTP arch."""
        if device_arch is None:
            self.notes.append(
                "the device's HTP arch is unknown (not a SoC this tool knows; pass --htp-arch): "
                "the binaries' arch was not checked"
            )
            return True
        binaries = self.report["model"]["binaries"]
        if all(q["htp_arch"] is None for q in binaries.values()):
            self.notes.append("the manifest does not say which HTP arch the binaries were built for: not checked")
        problem = arch_problem(binaries, device_arch)
        if problem is not None:
            self.failures.append(failure("wrong_arch", *problem))
        return problem is None

    def load_reference(self, manifest: Manifest, host: dict[str, np.ndarray]):
        """(manifest, host, dir) of the fp32 ONNX reference; None without one; False if it is unusable."""
        ref_dir = Path(self.args.reference) if self.args.reference else self.model_dir
        if not self.args.reference and any(spec.file is None for spec in manifest.components.values()):
            self.notes.append(
                "no fp32 ONNX files in the model directory (a .bin-only directory): the correctness "
                "check is skipped; pass --reference STATIC_MODEL_DIR to run it"
            )
            return None
        try:
            ref_manifest, ref_host = (manifest, host) if ref_dir == self.model_dir else load_model_dir(ref_dir)
        except ModelDirError as exc:
            self.failures.append(
                failure(
                    "model_dir",
                    f"--reference: {exc}",
                    "pass the static ONNX model directory "
                    "the binaries were compiled from (`sam2-ros-export --static-shapes`)",
                )
            )
            return False
        if sorted(ref_manifest.components) != sorted(manifest.components):
            self.failures.append(
                failure(
                    "model_dir",
                    f"--reference {ref_dir} has components "
                    f"{sorted(ref_manifest.components)}, the model {sorted(manifest.components)}",
                    "pass the static export the binaries were compiled from",
                )
            )
            return False
        differ = [
            n for n, spec in manifest.components.items() if _interface(spec) != _interface(ref_manifest.components[n])
        ]
        if differ:
            self.failures.append(
                failure(
                    "model_dir",
                    f"--reference {ref_dir}: {', '.join(differ)} have other inputs or outputs than the model's",
                    "pass the static export (--static-shapes) of the checkpoint the binaries were compiled from",
                )
            )
            return False
        self.report["model"]["reference"] = str(ref_dir)
        return ref_manifest, ref_host, ref_dir

    def load_components(self, backend: Any, manifest: Manifest) -> dict[str, tuple[Probe | None, float | None]]:
        """Every component loaded with the device backend: (probe or None, load seconds)."""
        device: dict[str, tuple[Probe | None, float | None]] = {}
        for name, spec in manifest.components.items():
            self.say(f"loading {name} with {self.args.backend}")
            start = time.perf_counter()
            try:
                component = backend.load(self.model_dir, spec)
            except Exception as exc:
                self.failures.append(diagnose(exc, "load_failed", name))
                device[name] = (None, None)
                continue
            device[name] = (Probe(component, self.clock, record=False), time.perf_counter() - start)
        return device

    def measure(self, manifest: Manifest, host: dict, device: dict, reference: Any) -> None:
        args = self.args
        sizes = decoder_sizes(manifest)
        slots = self._memory_slots(manifest)
        length = max(args.frames, slots + 1)
        objects = min(7, max(2, len(sizes)))
        try:
            clip = generate_clip(args.seed, length, CLIP_SIZE[0], CLIP_SIZE[1], objects, occlusion=True)
        except ValueError as exc:
            self.failures.append(failure("run_failed", f"--seed {args.seed}: {exc}", "use another --seed"))
            return
        prompts = clip_prompts(clip, sizes)
        all_loaded = all(probe is not None for probe, _ in device.values())
        cpu_run, samples = None, {}
        if reference is not None:
            cpu_run, samples = self.reference_run(reference, clip, prompts, length)
            if cpu_run is None:
                return
        elif all_loaded:  # no fp32 reference: record the inputs from the device run itself
            device_run = self.device_run(manifest, host, device, clip, prompts, length, record=True)
            samples = {n: p.sample for n, (p, _) in device.items() if p is not None and p.sample is not None}
            self.report["end_to_end"] = self.end_to_end(device_run, None, prompts, manifest)
        else:
            skipped = self.skipped_end_to_end("a component failed to load", min(len(prompts), TRACKED_OBJECTS))
            self.report["end_to_end"] = skipped
        rows = [self.check_component(manifest, name, device[name], samples.get(name)) for name in manifest.components]
        self.report["components"] = rows
        if reference is None:
            return
        if args.skip_e2e or not all_loaded or args.frames == 0:
            why = "--skip-e2e" if args.skip_e2e else "--frames 0" if args.frames == 0 else "a component failed to load"
            self.report["end_to_end"] = self.skipped_end_to_end(why, min(len(prompts), TRACKED_OBJECTS))
            return
        device_run = self.device_run(manifest, host, device, clip, prompts, args.frames)
        self.report["end_to_end"] = self.end_to_end(device_run, cpu_run, prompts, manifest)

    @staticmethod
    def _memory_slots(manifest: Manifest) -> int:
        inputs = {t.name: t for t in manifest.components["memory_attention"].inputs}
        if "memory_valid" in inputs:
            return int(inputs["memory_valid"].shape[1])
        return manifest.settings.num_maskmem

    def reference_run(self, reference: Any, clip: SyntheticClip, prompts: dict, length: int):
        """Track the clip with the fp32 ONNX files on the CPU, recording every component's inputs and outputs."""
        ref_manifest, ref_host, ref_dir = reference
        self.say(f"fp32 reference: tracking {length} frames of a synthetic clip on the CPU (onnxruntime)")
        try:
            cpu = create_backend("onnxruntime", threads=self.args.threads)
            probes = {n: Probe(cpu.load(ref_dir, spec), self.clock) for n, spec in ref_manifest.components.items()}
            run = track_clip(
                make_tracker(ref_manifest, ref_host, probes, "onnxruntime"), clip, prompts, length, self.clock
            )
        except Exception as exc:
            self.failures.append(
                failure(
                    "run_failed",
                    f"the fp32 reference run on the CPU failed: {exc}",
                    "check the model directory's ONNX files and onnxruntime",
                )
            )
            return None, {}
        return run, {n: p.sample for n, p in probes.items() if p.sample is not None}

    def device_run(self, manifest, host, device, clip, prompts, frames: int, record: bool = False):
        """Track the clip with the device's components; None if it failed (the failure is recorded)."""
        self.say(f"end to end: tracking {frames} frames with {self.args.backend}")
        probes = {}
        for name, (probe, _) in device.items():
            probe.record = record
            probes[name] = probe
        try:
            return track_clip(
                make_tracker(manifest, host, probes, self.args.backend), clip, prompts, frames, self.clock
            )
        except Exception as exc:
            self.failures.append(diagnose(exc, "run_failed"))
            return None

    def check_component(self, manifest: Manifest, name: str, loaded: tuple, sample: Sample | None) -> dict:
        """Timings and correctness of one component on its recorded input."""
        probe, load_s = loaded
        spec = manifest.components[name]
        precision = spec.qnn.precision if spec.qnn else "fp32"
        row: dict[str, Any] = {
            "name": name,
            "precision": precision,
            "status": "failed",
            "load_s": load_s,
            "first_run_s": None,
            "steady": None,
            "correctness": _unchecked("not loaded"),
            "input": {"frame": None, "note": None},
        }
        if probe is None:
            return row
        if sample is None:
            row.update(status="skipped", input={"frame": None, "note": "the tracking run never called it"})
            row["correctness"] = _unchecked("no input recorded")
            return row
        row["input"]["frame"] = sample.frame
        if name == "memory_attention" and "memory_valid" in sample.feeds:
            row["bank"] = _bank(sample.feeds)
        self.say(f"timing {name}: first run + {self.args.runs} runs")
        try:
            outputs = probe.run(sample.feeds)
            row["first_run_s"] = probe.first_run_s
            times = []
            for _ in range(self.args.runs):
                start = time.perf_counter()
                probe.run(sample.feeds)
                times.append(time.perf_counter() - start)
        except Exception as exc:
            self.failures.append(diagnose(exc, "run_failed", name))
            return row
        row["steady"] = seconds_summary(times)
        if self.report["model"]["reference"] is None:
            row.update(status="passed", correctness=_unchecked("no fp32 reference (pass --reference)"))
            return row
        tolerance = self.args.tolerance or TOLERANCES.get(precision, TOLERANCES["w8a8"])
        row["correctness"] = check = compare_outputs(sample.outputs, outputs, tolerance)
        row["status"] = "passed" if check["passed"] else "failed"
        if not check["passed"]:
            worst = check["max_relative_error"]
            self.failures.append(
                failure(
                    "correctness",
                    f"{name} ({precision}) differs from fp32 by "
                    f"{'NaN/Inf' if worst is None else f'{worst:.3g}'} (relative), more than {tolerance:g}",
                    "re-export with a higher precision for this component (--component-precision NAME=fp16 or w8a16), "
                    "and check the model on the HTP simulator first (docs/QUALCOMM.md, section 3)",
                    name,
                )
            )
        return row

    def skipped_end_to_end(self, why: str, objects: int) -> dict[str, Any]:
        return {
            "status": "skipped",
            "frames": 0,
            "objects": objects,
            "device_frame_s": [],
            "cpu_frame_s": [],
            "device_median_s": None,
            "device_p90_s": None,
            "cpu_median_s": None,
            "agreement": [],
            "agreement_min": None,
            "agreement_mean": None,
            "min_agreement_required": None,
            "note": why,
        }

    def end_to_end(self, device_run, cpu_run, prompts: dict, manifest: Manifest) -> dict[str, Any]:
        """Frame times and mask agreement of the device run against the CPU run."""
        if device_run is None:
            return {
                **self.skipped_end_to_end("the device tracking run failed", min(len(prompts), TRACKED_OBJECTS)),
                "status": "failed",
            }
        frames = len(device_run.seconds)
        steady = device_run.seconds[1:] or device_run.seconds  # frame 0 also runs the prompts
        out = {
            **self.skipped_end_to_end("", min(len(prompts), TRACKED_OBJECTS)),
            "status": "passed",
            "frames": frames,
            "device_frame_s": device_run.seconds,
            "device_median_s": float(np.median(steady)),
            "device_p90_s": float(np.percentile(steady, 90)),
            "note": None,
        }
        if cpu_run is None:
            out["note"] = "no fp32 reference: mask agreement not measured"
            return out
        cpu_seconds = cpu_run.seconds[:frames]
        agreement = [mask_agreement(w, g) for w, g in zip(cpu_run.masks, device_run.masks)]
        precisions = {spec.qnn.precision if spec.qnn else "fp32" for spec in manifest.components.values()}
        required = self.args.min_agreement or min(MIN_AGREEMENT.get(p, MIN_AGREEMENT["w8a8"]) for p in precisions)
        out.update(
            cpu_frame_s=cpu_seconds,
            cpu_median_s=float(np.median(cpu_seconds[1:] or cpu_seconds)),
            agreement=agreement,
            agreement_min=float(min(agreement)),
            agreement_mean=float(np.mean(agreement)),
            min_agreement_required=required,
            status="passed" if min(agreement) >= required else "failed",
        )
        if out["status"] == "failed":
            worst = int(np.argmin(agreement))
            self.failures.append(
                failure(
                    "end_to_end",
                    f"masks agree with the CPU run on only {min(agreement):.4f} of the pixels (frame "
                    f"{worst}), below {required}",
                    "see which component fails its tolerance above; a quantised memory "
                    "path drifts over frames (docs/QUALCOMM.md, section 3: use w8a16 or fp16 for it)",
                )
            )
        return out


def _interface(spec: Any) -> tuple:
    """A component's tensor names, shapes and dtypes (what another directory's files must match)."""
    return tuple((t.name, tuple(t.shape), t.dtype) for t in (*spec.inputs, *spec.outputs))


def _unchecked(note: str) -> dict[str, Any]:
    return {
        "checked": False,
        "passed": None,
        "tolerance": None,
        "max_relative_error": None,
        "outputs": {},
        "note": note,
    }


def _bank(feeds: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """How full a static memory bank was: memories and pointer tokens valid out of the slots."""
    memory, pointer = np.asarray(feeds["memory_valid"]).reshape(-1), np.asarray(feeds["pointer_valid"]).reshape(-1)
    filled = int(np.count_nonzero(memory))
    return {
        "memories": filled,
        "memory_slots": int(memory.size),
        "pointer_tokens": int(np.count_nonzero(pointer)),
        "pointer_slots": int(pointer.size),
        "full": filled == memory.size,
    }


# ---------------------------------------------------------------------------- command line
def _importable(module: str) -> bool:
    try:
        __import__(module)
    except Exception:  # ImportError, or a runtime whose native library fails to load
        return False
    return True


def default_backend() -> str:
    """aidlite where its module imports, else qnn where onnxruntime-qnn does; if neither, the platform's own
    runtime (aidlite on an ARM Linux device, qnn elsewhere), so the failure says what to install."""
    if _importable("aidlite"):
        return "aidlite"
    if _importable("onnxruntime_qnn"):
        return "qnn"
    return "aidlite" if platform.machine().lower() in ("aarch64", "arm64") else "qnn"


def parse_backend_options(items: list[str]) -> dict[str, Any]:
    """``k=v`` strings -> options (values stay strings; the backends convert what they need)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--backend-option takes KEY=VALUE, got {item!r}")
        options[key.strip()] = value.strip()
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=TOOL,
        description="Check sam2_ros on this device: platform, every component's load and run time and accuracy "
        "against fp32 on the CPU, and an end-to-end tracking run. Prints a table and writes a JSON report to "
        "attach to an issue.",
        epilog="exit codes: 0 passed, 1 a check failed, 2 bad arguments or an unusable model directory",
    )
    parser.add_argument("model_dir", nargs="?", help="model directory (sam2-ros-export --target qnn)")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help="default: aidlite if importable, else qnn")
    parser.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed to the backend (aidlite: accelerator=dsp|cpu|gpu, framework=TYPE_QNN216; "
        "qnn: htp_performance_mode=burst); repeatable",
    )
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help="steady runs per component (default %(default)s)"
    )
    parser.add_argument(
        "--frames", type=int, default=DEFAULT_FRAMES, help="frames tracked end to end (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="synthetic clip seed (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the fp32 reference")
    parser.add_argument(
        "--htp-arch", type=int, default=None, help="this device's HTP arch (e.g. 68, 73), if not detected"
    )
    parser.add_argument("--no-arch-check", action="store_true", help="load binaries built for another HTP arch anyway")
    parser.add_argument("--reference", default=None, help="fp32 static ONNX model dir (for a .bin-only model dir)")
    parser.add_argument("--tolerance", type=float, default=None, help="override the per-precision tolerance")
    parser.add_argument("--min-agreement", type=float, default=None, help="override the required mask agreement")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end tracking run")
    parser.add_argument(
        "--output",
        "-o",
        default=None,
        help="JSON report path (default: device-check-YYYYmmdd-HHMMSS.json here; '-' = stdout)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress messages")
    parser.add_argument("--print-schema", action="store_true", help="print the report's JSON schema and exit")
    parser.add_argument(
        "--docs-table",
        nargs="+",
        metavar="REPORT",
        help="print the docs/PERFORMANCE.md table rows of these device-check JSON reports and exit",
    )
    parser.add_argument("--root", default="/", help=argparse.SUPPRESS)  # tests: a fake /sys and /proc
    return parser


def new_report(args: argparse.Namespace, options: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    """The report before any check: settings filled, the rest empty."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": TOOL,
        "sam2_ros_version": package_version("sam2-ros") or package_version("sam2_ros"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": [TOOL, *argv],
        "status": "failed",
        "exit_code": 1,
        "settings": {
            "backend": args.backend,
            "backend_options": options,
            "runs": args.runs,
            "frames": args.frames,
            "seed": args.seed,
            "threads": args.threads,
        },
        "platform": None,
        "model": {
            "path": str(args.model_dir),
            "reference": None,
            "image_size": None,
            "random_weights": None,
            "binaries": {},
        },
        "backend": None,
        "components": [],
        "end_to_end": None,
        "failures": [],
        "notes": [],
        "duration_s": 0.0,
        "peak_rss_mb": None,
    }


def peak_rss_mb() -> float | None:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    except Exception:
        return None


def write_report(report: dict[str, Any], output: str | None) -> str:
    """Write the JSON report; returns where it went."""
    text = json.dumps(report, indent=2, allow_nan=False)
    if output == "-":
        print(text)
        return "stdout"
    path = Path(output or datetime.now().strftime("device-check-%Y%m%d-%H%M%S.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return str(path)


def run_check(argv: list[str] | None = None) -> tuple[dict[str, Any], int, str | None]:
    """Parse ``argv``, run the check; (report, exit code, where the report went)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.print_schema:
        print(json.dumps(REPORT_SCHEMA, indent=2))
        return {}, 0, None
    if args.docs_table:
        try:
            reports = [json.loads(Path(path).read_text()) for path in args.docs_table]
            print(docs_table(reports))
        except (OSError, ValueError) as exc:
            parser.error(f"--docs-table: {exc}")
        return {}, 0, None
    if args.model_dir is None:
        parser.error("the model directory is required")
    if args.runs < 1 or args.frames < 0:
        parser.error("--runs must be >= 1 and --frames >= 0")
    try:
        options = parse_backend_options(args.backend_option)
    except ValueError as exc:
        parser.error(str(exc))
    args.backend = args.backend or default_backend()
    report = new_report(args, options, argv)
    start = time.perf_counter()
    try:
        code = DeviceCheck(args, options, report).run()
    except Exception as exc:  # an unforeseen error still ends in a report
        report["failures"].append(diagnose(exc, "run_failed"))
        code = 1
    if report["platform"] is None:
        report["platform"] = describe_platform(Path(args.root), args.htp_arch)
    report.update(status="passed" if code == 0 else "failed", exit_code=code)
    report.update(duration_s=time.perf_counter() - start, peak_rss_mb=peak_rss_mb())
    problems = validate(report, REPORT_SCHEMA)
    assert not problems, f"the device check's report breaks its own schema: {problems}"
    where = write_report(report, args.output)
    print(format_report(report, where), file=sys.stderr if args.output == "-" else sys.stdout)
    return report, code, where


def main(argv: list[str] | None = None) -> int:
    """Console entry point (``sam2-ros-device-check``, ``ros2 run sam2_ros sam2-ros-device-check``)."""
    return run_check(argv)[1]


if __name__ == "__main__":
    sys.exit(main())
