"""Programs around the engine and the node: the clip player, the demos and their media (frames,
prompt YAML, contact sheets), the shipped model, and the repository's resource paths."""
