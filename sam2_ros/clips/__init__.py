"""The ground floor: seeded synthetic clips with ground truth (numpy only), shared by every layer
above (export's calibration, evaluation, training, the tools, the benchmarks and the tests)."""
