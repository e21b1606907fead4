"""Measuring tracking quality: metrics, Meta's predictor as the reference, and the evaluation
command (``python -m sam2_ros.evaluation``) on the synthetic clips of :mod:`sam2_ros.clips`."""
