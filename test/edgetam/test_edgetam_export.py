"""The export of EdgeTAM checkpoints: bad combinations fail before any export work, naming both."""

from __future__ import annotations

from sam2_ros.export.cli import main as export_main


def test_edgetam_checkpoint_with_a_sam2_config_fails_naming_both(edgetam_model, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--checkpoint", str(edgetam_model.checkpoint), "--config", "sam2.1_hiera_t", "--output", str(out)]
    assert export_main(args) == 2
    err = capsys.readouterr().err
    assert "EdgeTAM weights" in err and "'sam2.1_hiera_t' builds SAM 2" in err
    assert not out.exists()


def test_sam2_checkpoint_with_the_edgetam_config_fails_naming_both(tmp_path, capsys):
    from sam2_ros.evaluation.reference import make_random_checkpoint

    ckpt = make_random_checkpoint(tmp_path / "sam2.pt", "sam2.1_hiera_t", image_size=256)
    out = tmp_path / "out"
    assert export_main(["--checkpoint", str(ckpt), "--config", "edgetam", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "SAM 2 weights" in err and "'edgetam' builds EdgeTAM" in err
    assert not out.exists()


def test_random_init_builds_without_downloading(tmp_path, monkeypatch):
    """EdgeTAM's backbone asks timm for pretrained weights; the export never lets it download."""
    import timm.models

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(timm.models, "load_pretrained", no_download, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sam2_ros.export.builder import build_model

    built = build_model("edgetam", random_init_seed=4, image_size=256)
    assert built.family == "edgetam"
