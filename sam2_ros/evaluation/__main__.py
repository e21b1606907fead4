"""``python -m sam2_ros.evaluation``: IoU and J&F of a model on held-out synthetic clips."""

from sam2_ros.evaluation.evaluate import main

raise SystemExit(main())
