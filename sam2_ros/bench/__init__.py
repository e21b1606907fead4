"""Benchmarks (scripts that print figures; results go to docs/PERFORMANCE.md):
``python -m sam2_ros.bench`` (engine vs Meta's predictor), ``python -m sam2_ros.bench.node``
(the node's own cost), ``python -m sam2_ros.bench.precision`` (reduced precision vs quality),
``python -m sam2_ros.bench.results`` (a frame result's full-size work, lazy vs eager)."""
