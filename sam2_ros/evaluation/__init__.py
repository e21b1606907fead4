"""Measuring tracking quality: synthetic clips with ground truth, metrics, Meta's predictor as
the reference, and the evaluation command (``python -m sam2_ros.evaluation``)."""
