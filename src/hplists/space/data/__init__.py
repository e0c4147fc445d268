"""Search spaces shipped with hplists, one JSON file per space."""
