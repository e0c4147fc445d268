"""Command-line interface (``hplists ...``)."""
