"""Where the repository's resources are: config files, demo prompts, the shipped model.

The one place that knows the source tree's layout; everything else asks here.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "config"
PARAMS_FILE = CONFIG_DIR / "sam2_ros.yaml"
DEMO_PROMPTS = CONFIG_DIR / "demo_prompts.yaml"
SHIPPED_MODEL_DIR = REPO_ROOT / "models" / "synthetic-128"
