"""``python -m sam2_ros.export`` -- see :mod:`sam2_ros.export.cli`."""

from sam2_ros.export.cli import main

raise SystemExit(main())
