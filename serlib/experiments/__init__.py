"""One module per paper: experiment functions that notebooks call, returning tidy tables."""
