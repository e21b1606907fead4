"""The export tool: its output, and clear errors with no partial directory left behind.

As a program (``python -m sam2_ros.export``): test/process/export/test_export_process.py."""

from __future__ import annotations

import pytest
import torch
import yaml

from sam2_ros.engine.errors import ExportError
from sam2_ros.export.cli import main as export_main


def _leftovers(directory):
    return [p.name for p in directory.iterdir() if ".partial-" in p.name]


def test_manifest_describes_the_export(model_small):
    data = yaml.safe_load((model_small.model_dir / "model.yaml").read_text())
    assert data["format"] == "sam2_ros.model" and data["version"] == 1
    assert set(data["components"]) == {"image_encoder", "mask_decoder", "memory_encoder", "memory_attention"}
    attention = {t["name"]: t["shape"] for t in data["components"]["memory_attention"]["inputs"]}
    assert attention["memory"] == [1, "memory_tokens", 64]
    assert attention["object_pointers"] == [1, "pointer_tokens", 64]
    assert data["settings"]["num_maskmem"] == 7 and data["settings"]["max_obj_ptrs_in_encoder"] == 16
    assert data["source"]["config"] == "sam2.1_hiera_t"
    assert len(data["source"]["checkpoint_sha256"]) == 64


@pytest.mark.slow
def test_random_init_from_a_yaml_config_is_marked(tmp_path):
    from sam2_ros.train.model import MODEL_CONFIG

    # the small SAM 2.1 config of the synthetic model (a user's yaml, as any other): it exports in
    # 4/5 of sam2.1_hiera_t's time
    config = tmp_path / "my_sam2.yaml"
    config.write_text(MODEL_CONFIG.read_text())
    out = tmp_path / "random"
    args = ["--random-init", "7", "--config", str(config), "--image-size", "128", "--output", str(out), "-q"]
    assert export_main(args) == 0
    text = (out / "model.yaml").read_text()
    assert "RANDOM WEIGHTS" in text
    data = yaml.safe_load(text)
    assert data["random_weights"] is True and data["source"]["random_init_seed"] == 7
    assert data["source"]["config"] == "my_sam2"


def test_missing_checkpoint(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        export_main(["--checkpoint", str(tmp_path / "none.pt"), "--config", "sam2.1_hiera_t", "--output", str(out)])
        == 2
    )
    assert "checkpoint not found" in capsys.readouterr().err
    assert not out.exists() and not _leftovers(tmp_path)


def test_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    out = tmp_path / "out"
    assert export_main(["--checkpoint", str(bad), "--config", "sam2.1_hiera_t", "--output", str(out)]) == 2
    assert "could not be read" in capsys.readouterr().err
    assert not out.exists() and not _leftovers(tmp_path)


def test_unknown_config(model_small, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        export_main(["--checkpoint", str(model_small.checkpoint), "--config", "sam9_hiera_xxl", "--output", str(out)])
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown config 'sam9_hiera_xxl'" in err and "sam2.1_hiera_t" in err
    assert not out.exists()


def test_edgetam_config_here_points_to_the_edgetam_environment(model_small, tmp_path, capsys):
    """Meta's sam2 has no EdgeTAM: the export says where EdgeTAM is exported instead."""
    out = tmp_path / "out"
    assert export_main(["--random-init", "0", "--config", "edgetam", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "scripts/setup_edgetam_env.sh" in err and ".venv-edgetam/bin/python -m sam2_ros.export" in err
    assert not out.exists()


def test_weights_that_do_not_fit_the_config(model_small, tmp_path, capsys):
    out = tmp_path / "out"
    # a hiera_t checkpoint given as hiera_s: the trunk has other stages
    assert (
        export_main(["--checkpoint", str(model_small.checkpoint), "--config", "sam2.1_hiera_s", "--output", str(out)])
        == 2
    )
    err = capsys.readouterr().err
    assert "do not fit config 'sam2.1_hiera_s'" in err
    assert not out.exists() and not _leftovers(tmp_path)


def test_shape_mismatch_in_checkpoint(model_small, tmp_path, capsys):
    state = torch.load(model_small.checkpoint, weights_only=True)
    state["model"]["maskmem_tpos_enc"] = torch.zeros(3, 1, 1, 64)
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    out = tmp_path / "out"
    assert (
        export_main(
            ["--checkpoint", str(bad), "--config", "sam2.1_hiera_t", "--image-size", "256", "--output", str(out)]
        )
        == 2
    )
    assert "maskmem_tpos_enc" in capsys.readouterr().err
    assert not out.exists() and not _leftovers(tmp_path)


def test_unwritable_output(model_small, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    out = blocker / "model"
    assert (
        export_main(["--checkpoint", str(model_small.checkpoint), "--config", "sam2.1_hiera_t", "--output", str(out)])
        == 2
    )
    assert "cannot write" in capsys.readouterr().err


def test_existing_output_needs_force(model_small, tmp_path, capsys):
    out = tmp_path / "exists"
    out.mkdir()
    assert (
        export_main(["--checkpoint", str(model_small.checkpoint), "--config", "sam2.1_hiera_t", "--output", str(out)])
        == 2
    )
    assert "--force" in capsys.readouterr().err


def test_config_cannot_name_arbitrary_classes(tmp_path, capsys):
    evil = tmp_path / "evil.yaml"
    evil.write_text("model:\n  _target_: os.system\n  command: echo pwned\n")
    out = tmp_path / "out"
    assert export_main(["--random-init", "0", "--config", str(evil), "--output", str(out)]) == 2
    assert "is not allowed" in capsys.readouterr().err


def _prompt_encoder():
    from sam2.modeling.sam.prompt_encoder import PromptEncoder

    torch.manual_seed(0)
    encoder = PromptEncoder(embed_dim=64, image_embedding_size=(8, 8), input_image_size=(128, 128), mask_in_chans=16)
    for p in encoder.parameters():
        torch.nn.init.normal_(p)
    return encoder


@pytest.mark.parametrize("labels", [[1, 0, 2, 3], [1, 1, 1, 1], [-1, 0, 3, 2]])
def test_point_embedding_is_sam2s_exactly(labels):
    """The exported decoder embeds points bit-identically to SAM 2's PromptEncoder._embed_points."""
    from sam2_ros.export.components import embed_points

    encoder = _prompt_encoder()
    points = torch.rand(1, len(labels), 2) * 128
    want = encoder._embed_points(points, torch.tensor([labels], dtype=torch.int32), pad=True)
    assert torch.equal(embed_points(encoder, points, torch.tensor([labels], dtype=torch.float32)), want)


def test_point_embedding_survives_quantised_labels():
    """Labels that a QDQ graph dequantises to 0.99998 or -0.99997 still mean click and padding."""
    from sam2_ros.export.components import embed_points

    encoder = _prompt_encoder()
    points = torch.rand(1, 4, 2) * 128
    exact = torch.tensor([[1.0, 0.0, 2.0, 3.0]])
    want = embed_points(encoder, points, exact)
    for error in (3e-5, -3e-5, 1e-2, -1e-2):
        got = embed_points(encoder, points, exact + error)
        assert float((got - want).abs().max()) <= 4 * abs(error) * float(want.abs().max())
    # SAM 2's own int cast turns a slightly-low 1 into 0 (a negative click): the failure this avoids
    truncated = encoder._embed_points(points, (exact - 3e-5).to(torch.int32), pad=True)
    assert not torch.allclose(truncated, want)


@pytest.mark.parametrize("item", ["decoder=w8a16", "memory_attention=int4", "memory_attention"])
def test_bad_component_precision_is_refused_before_export(item):
    """--component-precision names a real component and a real precision, or the export stops at once."""
    from sam2_ros.export.cli import parse_component_precision

    assert parse_component_precision(["memory_attention=w8a16", "mask_decoder=fp16"]) == {
        "memory_attention": "w8a16",
        "mask_decoder": "fp16",
    }
    with pytest.raises(ExportError, match="--component-precision wants COMPONENT"):
        parse_component_precision([item])


@pytest.mark.parametrize(
    ("static", "layout", "sdpa"), [(False, "halves", False), (True, "halves", False), (False, "pairs", True)]
)
def test_memory_attention_component_is_metas(static, layout, sdpa):
    """The exported memory attention (real rotary tables, de-interleaved query/key rows) computes
    what SAM 2's MemoryAttention computes, in torch, for a bank of 2 frames and 4 pointer tokens;
    the static form with its padding slots masked out gives the same result, and so do the
    interleaved layout and torch's fused attention, which the benchmark measures against."""
    from sam2_ros.export.builder import build_model
    from sam2_ros.export.components import MemoryAttentionComponent, StaticMemoryAttentionComponent

    built = build_model("sam2.1_hiera_t", random_init_seed=3, image_size=128)
    sam = built.model
    e, c, cm = 8, 256, 64
    gen = torch.Generator().manual_seed(1)
    image, image_pos = torch.randn(1, c, e, e, generator=gen), torch.randn(1, c, e, e, generator=gen)
    memory, memory_pos = torch.randn(1, 2 * e * e, cm, generator=gen), torch.randn(1, 2 * e * e, cm, generator=gen)
    pointers, pointers_pos = torch.randn(1, 4, cm, generator=gen), torch.randn(1, 4, cm, generator=gen)
    with torch.no_grad():
        want = sam.memory_attention(
            curr=[image.flatten(2).permute(2, 0, 1)],
            curr_pos=[image_pos.flatten(2).permute(2, 0, 1)],
            memory=torch.cat([memory, pointers], 1).transpose(0, 1),
            memory_pos=torch.cat([memory_pos, pointers_pos], 1).transpose(0, 1),
            num_obj_ptr_tokens=4,
        )
        want = want.permute(1, 2, 0).reshape(1, c, e, e)
        if static:  # one empty memory slot and two padding pointer tokens, masked out
            pad = lambda t, n: torch.cat([t, 1e3 * torch.randn(1, n, cm, generator=gen)], 1)  # noqa: E731
            got = StaticMemoryAttentionComponent(sam, (e, e))(
                image, image_pos, pad(memory, e * e), pad(memory_pos, e * e), pad(pointers, 2), pad(pointers_pos, 2),
                torch.tensor([[1.0, 1.0, 0.0]]), torch.tensor([[1.0] * 4 + [0.0] * 2]),
            )  # fmt: skip
        else:
            component = MemoryAttentionComponent(sam, (e, e), rotary_layout=layout, sdpa=sdpa)
            got = component(image, image_pos, memory, memory_pos, pointers, pointers_pos)
    scale = float(want.abs().max())
    assert float((got - want).abs().max()) <= 1e-5 * scale
