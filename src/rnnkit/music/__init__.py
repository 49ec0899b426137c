"""Music from ABC notation: reading tune files (tunes, headers, keys and meters) and tune
bodies, key and meter classes, validating, converting, sampling tunes."""
