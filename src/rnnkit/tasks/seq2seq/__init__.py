"""Encoder-decoder tasks: ``rnnkit g2p``, ``rnnkit translation`` and ``rnnkit translate``."""
