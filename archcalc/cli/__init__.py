"""The ``archcalc`` command line: one module per command, each imported only when run."""
