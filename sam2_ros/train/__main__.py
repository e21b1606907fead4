"""Train a small SAM 2 on the project's synthetic videos, on CPU, with Meta's training code.

    python -m sam2_ros.train --output runs/synthetic-128 --minutes 90

Model code and losses are Meta's (``sam2`` and its ``training`` package: ``SAM2Train`` with
simulated clicks, boxes and correction clicks, and ``MultiStepMultiMasksAndIous`` with focal 20,
dice 1, IoU 1, object score 1). The curriculum is images first (single frames, many per batch),
then video clips. Writes ``checkpoint.pt`` (``{"model": state_dict}``, loadable by
``sam2-ros-export --checkpoint``), ``resume.pt`` and ``train_log.jsonl`` into ``--output``;
``--resume`` continues from ``resume.pt``; ``--init CHECKPOINT`` fine-tunes from another run's
weights (fresh optimizer; pass ``--data-offset`` so it sees new clips). Needs
``requirements/train.txt``; never part of CI.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import time
from pathlib import Path

from sam2_ros.engine.manifest import sha256_of
from sam2_ros.train.model import MODEL_CONFIG, build_loss, build_train_model

LOG = logging.getLogger("sam2_ros.train")


def lr_at(step: int, total: int, base_lr: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 1% of ``base_lr`` at ``total`` steps."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base_lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sam2_ros.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--output", type=Path, required=True, help="run folder (checkpoints and log)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/resume.pt")
    p.add_argument("--init", type=Path, default=None, help="start from this checkpoint.pt's weights (fine-tune)")
    p.add_argument("--data-offset", type=int, default=0, help="shift data seeds by this many steps (new clips)")
    p.add_argument("--seed", type=int, default=0, help="weight-init and sampling seed")
    p.add_argument("--image-steps", type=int, default=800, help="steps of the image-only phase")
    p.add_argument("--video-steps", type=int, default=5000, help="steps of the video phase")
    p.add_argument("--image-batch", type=int, default=16, help="images per image-phase step")
    p.add_argument("--video-batch", type=int, default=4, help="clips per video-phase step")
    p.add_argument("--frames", type=int, default=8, help="frames per training clip")
    p.add_argument("--occlusion-prob", type=float, default=0.7, help="share of training clips whose objects cross")
    p.add_argument(
        "--cond-frames",
        type=int,
        default=2,
        help="prompted (conditioning) frames per clip, at most (Meta's num_init_cond_frames_for_train)",
    )
    p.add_argument(
        "--correction-frames",
        type=int,
        default=2,
        help="frames given correction clicks per clip, at most (Meta's num_frames_to_correct_for_train;"
        " counts the conditioning frames)",
    )
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--warmup", type=int, default=150)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--clip-grad", type=float, default=1.0)
    p.add_argument("--minutes", type=float, default=None, help="stop (with a checkpoint) after this wall time")
    p.add_argument("--save-every", type=int, default=100, help="checkpoint every N steps")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="torch device to train on (cpu, cuda, cuda:1, ...)")
    p.add_argument("--workers", type=int, default=0, help="processes that make batches ahead (0: none)")
    return p


def plain_args(args: argparse.Namespace) -> dict:
    """The command-line arguments as JSON-ready values (paths as strings)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def training_prompting(args: argparse.Namespace) -> dict:
    """Meta's prompt-simulation settings that the command line sets (both counts are drawn at
    random up to their maximum per clip, as in Meta's training config)."""
    if not 1 <= args.cond_frames <= args.correction_frames:
        raise SystemExit("--cond-frames must be at least 1 and at most --correction-frames")
    return {
        "num_init_cond_frames_for_train": args.cond_frames,
        "rand_init_cond_frames_for_train": args.cond_frames > 1,
        "num_frames_to_correct_for_train": args.correction_frames,
    }


def optimizer_to(optimizer, device: str) -> None:
    """Move a (resumed) optimizer's state to ``device``, beside the model's parameters."""
    import torch

    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and key != "step":
                state[key] = value.to(device)


def save(output: Path, model, optimizer, step: int, elapsed: float, args) -> None:
    """Write checkpoint.pt (weights only) and resume.pt (weights, optimizer, step) atomically."""
    import torch

    resume = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "elapsed_s": elapsed,
        "torch_rng": torch.get_rng_state(),
        "args": plain_args(args),
    }
    for name, payload in (("checkpoint.pt", {"model": model.state_dict()}), ("resume.pt", resume)):
        tmp = output / (name + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(output / name)


def load_init(model, checkpoint: Path) -> dict:
    """Load ``checkpoint``'s weights into ``model``; return what the start event records of it:
    its SHA-256 and the training facts of the run that made it (from a ``quality.json`` beside
    it, as ``sam2_ros.train.card`` writes), if any."""
    import torch

    if not checkpoint.is_file():
        raise SystemExit(f"--init {checkpoint}: no such checkpoint file")
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["model"])
    quality = checkpoint.parent / "quality.json"
    facts = json.loads(quality.read_text()).get("training") if quality.is_file() else None
    LOG.info("initialised from %s%s", checkpoint, f" ({facts['steps']} steps trained)" if facts else "")
    return {"init_sha256": sha256_of(checkpoint), "init_training": facts}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[train] %(message)s")
    import numpy as np
    import torch

    from sam2_ros.train.data import BatchPrefetcher

    torch.set_num_threads(args.threads)
    args.output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = build_train_model(prompting=training_prompting(args))
    loss_fn = build_loss()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "pos_embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "pos_embed" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    step, elapsed_before = 0, 0.0
    init_record = load_init(model, args.init) if args.init is not None and not args.resume else {}
    if args.resume:
        state = torch.load(args.output / "resume.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_before = int(state["step"]), float(state["elapsed_s"])
        torch.set_rng_state(state["torch_rng"])
        np.random.seed(args.seed + step)
        LOG.info("resumed at step %d (%.1f min trained)", step, elapsed_before / 60)
    total = args.image_steps + args.video_steps
    LOG.info("model %s: %.2f M parameters; %d image + %d video steps", MODEL_CONFIG.name,
             sum(p.numel() for p in model.parameters()) / 1e6, args.image_steps, args.video_steps)  # fmt: skip
    model.to(args.device).train()
    optimizer_to(optimizer, args.device)

    def batch_args(at: int) -> tuple:
        images = at < args.image_steps
        return (at + args.data_offset, args.image_batch if images else args.video_batch,
                1 if images else args.frames, model.image_size, args.occlusion_prob)  # fmt: skip

    batches = BatchPrefetcher(batch_args, args.workers)
    start = time.perf_counter()
    log_path = args.output / "train_log.jsonl"
    event = {
        "event": "resume" if args.resume else "start",
        "step": step,
        "args": plain_args(args),
        "machine": platform.machine(),
        "threads": args.threads,
    } | init_record
    if args.resume:
        with open(log_path, "a") as log:
            log.write(json.dumps(event) + "\n")
    else:
        log_path.write_text(json.dumps(event) + "\n")
    with open(log_path, "a") as log:
        while step < total:
            elapsed = elapsed_before + time.perf_counter() - start
            if args.minutes is not None and elapsed > args.minutes * 60:
                LOG.info("time budget reached at step %d", step)
                break
            images = step < args.image_steps
            batch = batches.get(step).to(args.device)
            lr = lr_at(step, total, args.lr, args.warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            outputs = model(batch)
            losses = loss_fn(outputs, batch.masks)
            core = losses["core_loss"]
            optimizer.zero_grad(set_to_none=True)
            core.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            optimizer.step()
            step += 1
            record = {"step": step, "phase": "image" if images else "video", "lr": round(lr, 7),
                      "elapsed_s": round(elapsed_before + time.perf_counter() - start, 1),
                      "grad_norm": round(float(grad_norm), 4)}  # fmt: skip
            record.update({k: round(float(v), 5) for k, v in losses.items()})
            log.write(json.dumps(record) + "\n")
            log.flush()
            if step % 20 == 0:
                LOG.info("step %d %s loss %.4f lr %.2e (%.1f min)", step, record["phase"], record["core_loss"], lr,
                         record["elapsed_s"] / 60)  # fmt: skip
            if step % args.save_every == 0:
                save(args.output, model, optimizer, step, record["elapsed_s"], args)
    batches.close()
    save(args.output, model, optimizer, step, elapsed_before + time.perf_counter() - start, args)
    LOG.info("saved %s at step %d", args.output / "checkpoint.pt", step)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
