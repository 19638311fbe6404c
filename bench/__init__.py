"""sera's benchmarks. ``python -m bench DATA_DIR`` (``make bench``) runs the whole suite;
each module also runs on its own (``python -m bench.features DATA_DIR``, ...)."""
