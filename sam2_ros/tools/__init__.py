"""Programs around the engine and the node, one subpackage per job (docs/ARCHITECTURE.md, the tools'
rooms): ``device`` (the device check), ``bags`` (rosbag2 in and out, ``sam2-ros-record``), ``demo``
(the player, the demos and their media). The modules here serve the launch file and a running node
(launch logic, RViz config, the shipped model, the node as a child process, the orderly stop,
``sam2-ros-prompt``); they import none of the subpackages."""
