"""Programs around the engine and the node: the clip player, the demos, the shipped model, and
the repository's resource paths."""
