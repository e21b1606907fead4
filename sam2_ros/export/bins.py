"""Write a model directory for QNN context binaries compiled elsewhere (QNN SDK, AIMO, AI Hub).

    sam2-ros-qnn-manifest --like models/my_model_static --bins path/to/bins --output models/my_model_qnn

APLUX Model Farm packages are a ``models/`` folder of ``.bin`` files. The engine also needs the
settings, host tensors and tensor interfaces of each component; those come from a static-shape
model directory exported from the same checkpoint (``sam2-ros-export --static-shapes`` or
``--target qnn``): ``--like``. Each component's binary is found as ``<component>.bin`` in
``--bins`` (``--map component=file.bin`` overrides). Every binary is checked (present, non-empty,
not an ONNX, PyTorch or other known file) and recorded with its SHA-256; the result is a
``.bin``-only model directory for the ``aidlite`` backend, whose runtime checks the binaries'
interfaces when it loads them on the device.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

from sam2_ros.engine.errors import ModelDirError, Sam2RosError
from sam2_ros.engine.manifest import MANIFEST_NAME, QnnBinary, load_model_dir, sha256_of
from sam2_ros.export.qnn import BINARY_DIR

# Leading bytes of files that are certainly not QNN context binaries.
FOREIGN_FORMATS = {b"PK\x03\x04": "a zip/PyTorch archive", b"\x80\x02": "a Python pickle", b"\x08": "an ONNX model"}


def check_binary(path: Path) -> None:
    """Refuse a missing, empty or obviously foreign file given as a QNN context binary."""
    if not path.is_file():
        raise ModelDirError(f"{path} is missing")
    size = path.stat().st_size
    if size < 1024:
        raise ModelDirError(f"{path} has {size} bytes: too small for a QNN context binary")
    head = path.read_bytes()[:4]
    for magic, what in FOREIGN_FORMATS.items():
        if head.startswith(magic):
            raise ModelDirError(f"{path} is {what}, not a QNN context binary (compile it with the QNN SDK or AIMO)")


def write_bin_model_dir(
    like: Path,
    bins: Path,
    output: Path,
    mapping: dict[str, str] | None = None,
    precision: str = "fp16",
    force: bool = False,
) -> Path:
    """Build ``output`` from the binaries in ``bins`` and the interfaces of the model directory ``like``."""
    manifest, _ = load_model_dir(like)
    if not manifest.decoder_points():
        raise ModelDirError(
            f"{like} has a dynamic-shape decoder: QNN binaries are static, export the reference with --static-shapes"
        )
    if output.exists() and not force:
        raise ModelDirError(f"output {output} already exists; pass --force to replace it")
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(manifest.components)
    if unknown:
        raise ModelDirError(f"--map names unknown components {sorted(unknown)}; known: {sorted(manifest.components)}")
    missing = [n for n in manifest.components if not (bins / mapping.get(n, f"{n}.bin")).is_file()]
    if missing:
        raise ModelDirError(
            f"{bins} lacks binaries for {', '.join(missing)} (expected <component>.bin, or --map component=file.bin)"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    try:
        (staging / BINARY_DIR).mkdir()
        shutil.copyfile(like / manifest.host_tensors_file, staging / manifest.host_tensors_file)
        components = {}
        for name, spec in manifest.components.items():
            source = bins / mapping.get(name, f"{name}.bin")
            check_binary(source)
            target = staging / BINARY_DIR / f"{name}.bin"
            shutil.copyfile(source, target)
            qnn = QnnBinary(f"{BINARY_DIR}/{name}.bin", sha256_of(target), precision=precision)
            components[name] = replace(spec, file=None, sha256=None, format="qnn_context", qnn=qnn)
        result = replace(manifest, components=components, source={**manifest.source, "binaries_from": str(bins)})
        header = "# sam2_ros model directory manifest (data, read with yaml.safe_load): QNN context binaries\n"
        (staging / MANIFEST_NAME).write_text(header + yaml.safe_dump(result.to_dict(), sort_keys=False))
        load_model_dir(staging)  # the directory we wrote must load
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sam2-ros-qnn-manifest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--like", type=Path, required=True, help="static-shape model directory of the same model")
    parser.add_argument("--bins", type=Path, required=True, help="folder with one .bin per component")
    parser.add_argument("--output", type=Path, required=True, help="model directory to write")
    parser.add_argument("--map", action="append", default=[], metavar="COMPONENT=FILE", help="binary of a component")
    parser.add_argument("--precision", default="fp16", help="precision the binaries were compiled with (fp16, w8a8)")
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    args = parser.parse_args(argv)
    try:
        mapping = dict(item.split("=", 1) for item in args.map)
        out = write_bin_model_dir(args.like, args.bins, args.output, mapping, args.precision, args.force)
    except (Sam2RosError, ValueError) as exc:
        print(f"sam2-ros-qnn-manifest: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(list((out / BINARY_DIR).glob('*.bin')))} binaries); run it with backend aidlite")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
