"""``make bench``: driftloop's figures beside the same steps run directly, as ratios."""
