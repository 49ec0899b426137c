"""Music in ABC notation, built on the language model: ``rnnkit music train|generate|play``."""
