"""SAM 2 checkpoint -> sam2_ros model directory. Needs torch and the official ``sam2`` package."""
