"""The one list of what the ``rnnkit`` command offers: a plugin a line.

A new task is one package under :mod:`rnnkit.tasks` whose ``commands`` module has a
``PLUGIN`` (:class:`rnnkit.tasks.plugin.Plugin`), plus its line here. Tools of the library
(data sets, gradient probes, export) hand over their ``add_commands`` the same way.
"""

from __future__ import annotations

from rnnkit.analysis import commands as analysis_commands
from rnnkit.data import commands as data_commands
from rnnkit.export import commands as export_commands
from rnnkit.recipes import commands as recipes_listing
from rnnkit.recipes import recipe_task
from rnnkit.tasks.classify import commands as classify
from rnnkit.tasks.forecast import commands as forecast
from rnnkit.tasks.language_model import commands as language_model
from rnnkit.tasks.long_range import commands as long_range
from rnnkit.tasks.music import commands as music
from rnnkit.tasks.plugin import Plugin
from rnnkit.tasks.seq2seq import commands as seq2seq
from rnnkit.tasks.tag import commands as tag

PLUGINS: tuple[Plugin, ...] = (
    language_model.PLUGIN,                  # train, sample
    Plugin(data_commands.add_commands),     # data list|fetch
    Plugin(lambda commands: recipes_listing.add_commands(commands, recipe_command)),  # recipes
    Plugin(analysis_commands.add_commands), # diagnose gradients
    long_range.PLUGIN,                      # task adding|copy|digits
    music.PLUGIN,                           # music train|generate|play
    Plugin(export_commands.add_export_command),  # export
    seq2seq.PLUGIN,                         # g2p, translation, translate; train --task seq2seq
    classify.PLUGIN,                        # classify train|eval
    tag.PLUGIN,                             # tag train|eval
    forecast.PLUGIN,                        # forecast train|eval
)


def task_command(task: str) -> str:
    """The command that trains a recipe for ``task``: what its plugin names
    (``Plugin.recipe_commands``), else ``rnnkit <task> train``."""
    for plugin in PLUGINS:
        if task in plugin.recipe_commands:
            return plugin.recipe_commands[task]
    return f"rnnkit {task} train"


def recipe_command(name: str) -> str:
    """The command that trains the shipped recipe ``name``: ``rnnkit train`` for a language
    model's (no ``[task]`` table), its task's command otherwise."""
    task = recipe_task(name)
    return "rnnkit train" if task is None else task_command(task)
