"""The export tool as a program: ``python -m sam2_ros.export`` in its own interpreter. The export itself, in
this process: test/unit/export/test_export.py."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args", [["-m", "sam2_ros.export", "--help"]])
def test_module_entry_point(args):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--checkpoint" in done.stdout and "--random-init" in done.stdout
