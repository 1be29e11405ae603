"""Benchmarks of spec §8, printed as ratios measured in one run (`make bench`)."""
