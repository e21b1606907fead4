"""Package a training run as the shipped model: checkpoint, config, measured quality, model card.

    python -m sam2_ros.train.card --run runs/synthetic-128 --output models/synthetic-128

Stores the run's ``checkpoint.pt`` (weights rounded to float16 by default, half the size; every
figure is measured on the stored weights) and the model config, exports the ONNX model directory,
evaluates it on held-out clips (click and box prompts, through the engine and Meta's predictor)
and writes ``quality.json`` (hashes, training facts, figures; the regression tests compare with
it) and ``MODEL_CARD.md``. Needs the export environment (torch, sam2).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from sam2_ros.engine.manifest import sha256_of
from sam2_ros.evaluation.evaluate import CONDITIONS, evaluate
from sam2_ros.train.model import MODEL_CONFIG

# What the regression tests re-measure in CI (small, so it stays fast).
REGRESSION = {"clips": 3, "frames": 16, "prompt": "click", "seed_start": 1000}


def _command(args: dict) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in args.items() if k != "resume" and v is not None)
    return "python -m sam2_ros.train " + flags + (" --resume" if args.get("resume") else "")


def _frames_of(command: str) -> str:
    """The clip length a recorded training command used (the command-line default if it names none)."""
    match = re.search(r"--frames (\d+)", command)
    return match.group(1) if match else "8"


def video_clip_summary(facts: dict) -> str:
    """'4927 on 8-frame clips and 1523 on 16-frame clips' from the training facts."""
    by_frames = facts.get("video_steps_by_frames") or {"8": facts["video_steps"]}
    return " and ".join(f"{n} on {f}-frame clips" for f, n in sorted(by_frames.items(), key=lambda kv: int(kv[0])))


def training_facts(run: Path) -> dict:
    """Steps, wall time and the commands (start and resumes) from the run's train_log.jsonl.

    A run started with ``--init`` adds its figures to those of the run that made its starting
    checkpoint (recorded in the start event), so the card tells the whole training.
    """
    lines = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines() if line.strip()]
    events = [line for line in lines if line.get("event") in ("start", "resume")]
    steps = [line for line in lines if "step" in line and "event" not in line]
    last = steps[-1]
    facts = {
        "commands": [
            _command(e["args"]) + (f"  # at step {e['step']}" if e["event"] == "resume" else "") for e in events
        ],
        "seed": events[0]["args"]["seed"],
        "steps": last["step"],
        "image_steps": sum(1 for s in steps if s["phase"] == "image"),
        "video_steps": sum(1 for s in steps if s["phase"] == "video"),
        "video_steps_by_frames": {
            str(events[0]["args"].get("frames", 8)): sum(1 for s in steps if s["phase"] == "video")
        },
        "wall_time_min": round(last["elapsed_s"] / 60, 1),
        "final_loss": last["core_loss"],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch threads {events[0].get('threads')}",
    }
    before = events[0].get("init_training")
    if before:
        facts["commands"] = before["commands"] + facts["commands"]
        facts["seed"] = before["seed"]
        for key in ("steps", "image_steps", "video_steps"):
            facts[key] += before[key]
        by_frames = before.get("video_steps_by_frames") or {_frames_of(before["commands"][-1]): before["video_steps"]}
        for frames, count in by_frames.items():
            facts["video_steps_by_frames"][frames] = facts["video_steps_by_frames"].get(frames, 0) + count
        facts["wall_time_min"] = round(facts["wall_time_min"] + before["wall_time_min"], 1)
        facts["init_sha256"] = events[0]["init_sha256"]
    return facts


def summary_line(report: dict, side: str, condition: str) -> str:
    r = report[side][condition]
    return (
        f"| {condition} | {r['frame0_iou']:.3f} | {r['mean_iou']:.3f} | {r['J']:.3f} | {r['F']:.3f} | {r['J&F']:.3f} |"
    )


def write_card(output: Path, facts: dict) -> None:
    """MODEL_CARD.md from quality.json's facts."""
    t = facts["training"]
    rows = []
    for prompt, report in facts["evaluation"].items():
        rows.append(f"\n**{prompt} prompt on frame 0**, engine (ONNX Runtime CPU), {len(report['seeds'])} clips per "
                    f"condition, {report['frames']} frames:\n")  # fmt: skip
        rows.append("| condition | frame-0 IoU | mean IoU (16 frames) | J | F | J&F |\n|---|---|---|---|---|---|")
        rows.extend(summary_line(report, "engine", c) for c in CONDITIONS)
        if "reference" in report:
            a = report["agreement"]
            rows.append("\nMeta's `SAM2VideoPredictor` on the same checkpoint: "
                        + ", ".join(f"{c} mean IoU {report['reference'][c]['mean_iou']:.3f}" for c in CONDITIONS)
                        + f"; largest logit difference to the engine {a['max_logit_error']:.2g}, "
                        f"{a['mask_pixels_differing']} of {a['mask_pixels']} mask pixels differ.")  # fmt: skip
    init_note = (
        f" (the `--init` checkpoint is the one the earlier commands made, SHA-256 `{t['init_sha256'][:16]}...`:"
        " a fine-tune with a fresh optimizer on new clips)"
        if t.get("init_sha256")
        else ""
    )
    text = f"""# Model card: sam2_ros synthetic-128

A small SAM 2.1-architecture model (Meta's model code, {facts["parameters_m"]} M parameters, 128 px input)
trained from scratch by this project on its own synthetic videos, so that the demo and the
regression tests have a model whose masks mean something without any download.

**For:** demonstrations of the node and the engine, and regression tests of tracking quality on
synthetic scenes (textured shapes that move, rotate, scale, enter, leave and occlude each other).
**Not for:** real images. It has never seen a photograph; on camera images its masks are not useful.
Export your own SAM 2 / SAM 2.1 checkpoint for real use (docs/MODEL_DIR.md).

## Files
- `checkpoint.pt`: PyTorch weights, `{{"model": state_dict}}`, stored as {facts.get("weights_dtype", "float32")}
  (the figures below are measured on them; SHA-256 `{facts["checkpoint_sha256"][:16]}...`);
  loads with `sam2.build_sam` / `sam2-ros-export --checkpoint`.
- `config.yaml`: the model config, `sam2_ros/train/sam2_synthetic_128.yaml`
  (SHA-256 `{facts["config_sha256"][:16]}...`).
- `quality.json`: hashes, training facts and every figure below (the regression tests compare with it).
- `onnx/`: the model directory, exported from the checkpoint on first use (`python -m sam2_ros.tools.shipped`).

## Training
- Commands: {"; then ".join(f"`{c}`" for c in t["commands"])}{init_note}
- Seed {t["seed"]}; {t["steps"]} steps ({t["image_steps"]} image-only, then {video_clip_summary(t)});
  {t["wall_time_min"]} min wall time on {t["machine"]} ({facts["trained_on"]}).
- Meta's `training` package: `SAM2Train` (simulated clicks, boxes and correction clicks) and
  `MultiStepMultiMasksAndIous` (focal 20, dice 1, IoU 1, object score 1); AdamW, cosine schedule.
- Data: `sam2_ros.clips.synthetic` clips with seeds from 1,000,000 up; evaluation uses seeds 1000 and up.
- One mask per click (`multimask_output_in_sam: false`), so export with `--no-postprocessing`
  and run Meta's predictor with `apply_postprocessing=False`.

## Quality (held-out synthetic clips, measured {facts["measured_at"]})
"clean": 1-2 objects that never overlap; "occluded": 2-4 objects whose paths cross, plus
shapes entering from the edges. Every object is prompted once on frame 0, then tracked.
{chr(10).join(rows)}

Targets set for this model (issue 5): frame-0 IoU >= 0.85 and mean IoU >= 0.75 over 16 frames
with occlusion. See docs/PERFORMANCE.md for how reduced precision changes these figures.
"""
    (output / "MODEL_CARD.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.train.card", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="training run folder")
    parser.add_argument("--output", type=Path, required=True, help="shipped model folder")
    parser.add_argument("--clips", type=int, default=24, help="held-out clips per condition")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights-dtype", choices=("float16", "float32"), default="float16",
                        help="storage precision of the shipped checkpoint's floating-point weights")  # fmt: skip
    args = parser.parse_args(argv)
    import torch

    args.output.mkdir(parents=True, exist_ok=True)
    state = torch.load(args.run / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    dtype = getattr(torch, args.weights_dtype)
    stored = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"model": stored}, args.output / "checkpoint.pt")
    shutil.copyfile(MODEL_CONFIG, args.output / "config.yaml")
    facts = {
        "checkpoint_sha256": sha256_of(args.output / "checkpoint.pt"),
        "config_sha256": sha256_of(args.output / "config.yaml"),
        "parameters_m": round(sum(v.numel() for v in state.values()) / 1e6, 2),
        "weights_dtype": args.weights_dtype,
        "trained_on": datetime.fromtimestamp((args.run / "checkpoint.pt").stat().st_mtime, timezone.utc)
        .date()
        .isoformat(),
        "training": training_facts(args.run),
        "measured_at": datetime.now(timezone.utc).date().isoformat(),
    }
    (args.output / "quality.json").write_text(json.dumps(facts, indent=2) + "\n")  # hashes first: export checks them
    from sam2_ros.tools.shipped import exported_dir

    model_dir = exported_dir(args.output)
    facts["evaluation"] = {
        prompt: evaluate(model_dir, clips=args.clips, frames=16, prompt=prompt, reference=True, threads=args.threads,
                         source_dir=args.output)
        for prompt in ("click", "box")
    }
    regression = evaluate(model_dir, threads=args.threads, **REGRESSION)
    facts["regression"] = REGRESSION | {"engine": {c: regression["engine"][c] for c in CONDITIONS}}
    (args.output / "quality.json").write_text(json.dumps(facts, indent=2) + "\n")
    write_card(args.output, facts)
    print(f"wrote {args.output}: checkpoint.pt, config.yaml, quality.json, MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
