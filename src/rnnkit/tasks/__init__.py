"""Tasks, one package each, every one plugged into the ``rnnkit`` command by one line of
:mod:`rnnkit.cli.registry` (see :class:`rnnkit.tasks.plugin.Plugin`).

A task package may build on the library below it (cells, layers, models, data, metrics,
training) and, for music, on the language model; the library never imports a task, and a
task never imports the CLI.
"""
