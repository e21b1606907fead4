"""Clips played as a camera and the demos: the player (``sam2-ros-player``), the node demo
(``sam2-ros-demo``), the engine demo (``sam2-ros-engine-demo``), the scripted detector and the
media they share (frames, prompt YAML, contact sheets)."""
