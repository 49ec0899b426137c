"""The long-range tasks (adding, copy, sequential digits): ``rnnkit task NAME``."""
