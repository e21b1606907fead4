"""The backend interface: load a model component, run it on named numpy arrays."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.engine.manifest import ComponentSpec


class Component(ABC):
    """One loaded model component (image encoder, decoder, ...)."""

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    @abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on inputs keyed by the spec's input names; return outputs keyed by name."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release runtime resources early (optional; most runtimes free them when collected)."""


class Backend(ABC):
    """A runtime that loads components listed in a model manifest."""

    name: str = ""

    def __init__(self, threads: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        self.threads = threads
        self.options = dict(options or {})

    @abstractmethod
    def load(self, model_dir: Path, spec: ComponentSpec) -> Component:
        """Load the component ``spec`` from ``model_dir``; raise BackendError on failure."""

    def describe(self) -> str:
        """One line for logs and diagnostics."""
        return self.name
