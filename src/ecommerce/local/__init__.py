"""Running the whole shop on one machine, without containers."""
