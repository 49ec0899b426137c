"""Music from ABC notation: reading tune bodies, validating, converting, sampling tunes."""
