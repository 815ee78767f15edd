"""Benchmarks: our figures next to the raw limit measured in the same run (`make bench`, `make bench-quick`)."""
