"""Classification, many-to-one: ``rnnkit classify`` (a label per text)."""
