"""``python -m sam2_ros.bench``: the engine against Meta's predictor (sam2_ros/bench/engine.py)."""

from sam2_ros.bench.engine import main

raise SystemExit(main())
