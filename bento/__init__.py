"""The BentoML service package (built into the Bento with the driftloop core)."""
