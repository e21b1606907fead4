"""The model shipped in ``models/synthetic-128``: a small SAM 2 trained on the synthetic videos.

The package keeps its training checkpoint (``checkpoint.pt``, Meta's ``{"model": ...}``
format), the model config and ``quality.json`` (hashes and measured quality, see
``MODEL_CARD.md``) in its share directory (``share/sam2_ros/models/synthetic-128`` once
installed). The ONNX model directory is exported from them on first use into the user cache
(``~/.cache/sam2_ros/models/synthetic-128-<checkpoint hash>/onnx``, see
:func:`sam2_ros.resources.cache_dir`; ~20 s, needs the export environment) and never
into the source or install tree. A changed checkpoint has another hash, so another folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from sam2_ros.engine.errors import ModelDirError
from sam2_ros.engine.manifest import MANIFEST_NAME, sha256_of
from sam2_ros.resources import cache_dir, shipped_model_dir

EXPORT_HINT = (
    "exporting it needs torch and Meta's sam2 package (the export environment): run "
    "scripts/setup_env.sh from a source checkout, or see requirements/export.txt; or export it "
    "on a workstation with `sam2-ros-export --checkpoint {checkpoint} --config {config} "
    "--no-postprocessing --output <dir>` and pass that directory as the model"
)


def card(folder: Path | None = None) -> dict:
    """``quality.json``: the checkpoint's and config's SHA-256 and the model card's figures."""
    path = (folder or shipped_model_dir()) / "quality.json"
    if not path.is_file():
        raise ModelDirError(f"{path} is missing: the shipped model folder is incomplete (re-clone the repository)")
    return json.loads(path.read_text())


def verify(folder: Path | None = None) -> dict:
    """Check the shipped checkpoint and config against their recorded SHA-256; return the card."""
    folder = folder or shipped_model_dir()
    facts = card(folder)
    for name, key in (("checkpoint.pt", "checkpoint_sha256"), ("config.yaml", "config_sha256")):
        path = folder / name
        if not path.is_file():
            raise ModelDirError(f"{path} is missing (if you cloned without Git LFS content, fetch it)")
        if sha256_of(path) != facts[key]:
            raise ModelDirError(f"{path} does not match the SHA-256 in {folder / 'quality.json'}: it was changed")
    return facts


def export_target(folder: Path | None = None) -> Path:
    """Where the model in ``folder`` (default: the shipped one) is exported to: the user cache."""
    folder = folder or shipped_model_dir()
    facts = card(folder)
    return cache_dir() / "models" / f"{folder.name}-{facts['checkpoint_sha256'][:16]}" / "onnx"


def _is_exported(target: Path, checkpoint_sha256: str) -> bool:
    manifest = target / MANIFEST_NAME
    if not manifest.is_file():
        return False
    import yaml

    source = (yaml.safe_load(manifest.read_text()) or {}).get("source", {})
    return source.get("checkpoint_sha256") == checkpoint_sha256


def exported_dir(folder: Path | None = None, export: bool = True, quiet: bool = True) -> Path:
    """The ONNX model directory of the model in ``folder`` (default: the shipped one).

    Exported from the checkpoint into the user cache on first use; later calls return it at once.
    """
    folder = folder or shipped_model_dir()
    facts = verify(folder)
    target = export_target(folder)
    if _is_exported(target, facts["checkpoint_sha256"]):
        return target
    hint = EXPORT_HINT.format(checkpoint=folder / "checkpoint.pt", config=folder / "config.yaml")
    if not export:
        raise ModelDirError(f"{target} is not exported yet; run python -m sam2_ros.tools.shipped ({hint})")
    try:
        import sam2  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModelDirError(f"the shipped model is not exported yet ({target}); {hint}") from exc
    from sam2_ros.export.cli import main as export_main

    print(f"[sam2_ros] exporting the shipped model to {target} (once, ~20 s) ...", flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    # the export tool writes a sibling folder and renames it into place: no half model is left
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
