"""Backend registry. Backends are imported lazily, so a missing runtime only matters when chosen."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sam2_ros.engine.backends.base import Backend, Component
from sam2_ros.engine.errors import BackendError

_REGISTRY: dict[str, str] = {
    "onnxruntime": "sam2_ros.engine.backends.onnxruntime_backend:OnnxRuntimeBackend",
    "qnn": "sam2_ros.engine.backends.qnn_backend:QnnBackend",
    "aidlite": "sam2_ros.engine.backends.aidlite_backend:AidliteBackend",
    "openvino": "sam2_ros.engine.backends.openvino_backend:OpenVinoBackend",
}


def available_backends() -> list[str]:
    """Names accepted by :func:`create_backend`."""
    return sorted(_REGISTRY)


def create_backend(name: str, threads: int | None = None, options: Mapping[str, Any] | None = None) -> Backend:
    """Instantiate the backend called ``name``."""
    target = _REGISTRY.get(name)
    if target is None:
        raise BackendError(f"unknown backend {name!r}; available: {', '.join(available_backends())}")
    module_name, class_name = target.split(":")
    backend_cls = getattr(importlib.import_module(module_name), class_name)
    return backend_cls(threads=threads, options=options)


__all__ = ["Backend", "Component", "available_backends", "create_backend"]
