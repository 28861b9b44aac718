"""Load and fault benchmark helpers; the entry point is bench/bench_load.py."""
