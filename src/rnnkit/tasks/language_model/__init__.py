"""The language model: ``rnnkit train``, ``rnnkit sample`` (and ``rnnkit eval`` of its
runs, through :mod:`rnnkit.cli.dispatch`)."""
