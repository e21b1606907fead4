"""The model shipped in ``models/synthetic-128``: a small SAM 2 trained on the synthetic videos.

The repository keeps its training checkpoint (``checkpoint.pt``, Meta's ``{"model": ...}``
format), the model config and ``quality.json`` (hashes and measured quality, see
``MODEL_CARD.md``). The ONNX model directory is exported from them on first use into
``models/synthetic-128/onnx`` (git-ignored; ~20 s, needs the export environment) and
re-exported when the checkpoint changes.
"""

from __future__ import annotations

import json
from pathlib import Path

from sam2_ros.engine.errors import ModelDirError
from sam2_ros.engine.manifest import MANIFEST_NAME, sha256_of
from sam2_ros.tools.resources import SHIPPED_MODEL_DIR as SHIPPED_DIR


def card(folder: Path = SHIPPED_DIR) -> dict:
    """``quality.json``: the checkpoint's and config's SHA-256 and the model card's figures."""
    path = folder / "quality.json"
    if not path.is_file():
        raise ModelDirError(f"{path} is missing: the shipped model folder is incomplete (re-clone the repository)")
    return json.loads(path.read_text())


def verify(folder: Path = SHIPPED_DIR) -> dict:
    """Check the shipped checkpoint and config against their recorded SHA-256; return the card."""
    facts = card(folder)
    for name, key in (("checkpoint.pt", "checkpoint_sha256"), ("config.yaml", "config_sha256")):
        path = folder / name
        if not path.is_file():
            raise ModelDirError(f"{path} is missing (if you cloned without Git LFS content, fetch it)")
        if sha256_of(path) != facts[key]:
            raise ModelDirError(f"{path} does not match the SHA-256 in {folder / 'quality.json'}: it was changed")
    return facts


def exported_dir(folder: Path = SHIPPED_DIR, export: bool = True, quiet: bool = True) -> Path:
    """The shipped model's ONNX model directory, exported from the checkpoint if missing or stale."""
    facts = verify(folder)
    target = folder / "onnx"
    manifest = target / MANIFEST_NAME
    if manifest.is_file():
        import yaml

        source = (yaml.safe_load(manifest.read_text()) or {}).get("source", {})
        if source.get("checkpoint_sha256") == facts["checkpoint_sha256"]:
            return target
    if not export:
        raise ModelDirError(f"{target} is not exported yet: run python -m sam2_ros.tools.shipped")
    from sam2_ros.export.cli import main as export_main

    print(f"[sam2_ros] exporting the shipped model to {target} (once, ~20 s) ...", flush=True)
    args = ["--checkpoint", str(folder / "checkpoint.pt"), "--config", str(folder / "config.yaml"),
            "--no-postprocessing", "--output", str(target), "--force"]  # fmt: skip
    if export_main(args + (["-q"] if quiet else [])) != 0:
        raise ModelDirError(f"exporting {folder / 'checkpoint.pt'} failed (see the messages above)")
    return target


def find_model(explicit: Path | None = None) -> Path:
    """The model to run: ``explicit`` if given, else the shipped one (exported on first use)."""
    return explicit if explicit is not None else exported_dir()


def main() -> int:
    """``python -m sam2_ros.tools.shipped``: export the shipped model and print its directory."""
    print(exported_dir(quiet=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
