"""Training of the synthetic demo model (python -m sam2_ros.train); needs requirements/train.txt."""
