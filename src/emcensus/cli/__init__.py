"""The `emcensus` command: a thin click layer over the library."""
