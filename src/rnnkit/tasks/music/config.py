"""The music task's own settings: the ``[task]`` table of a music recipe, and of a run.

A music recipe is a language model's ``[data] [model] [train]`` plus::

    [task]
    name = "music"
    condition = "key_meter"   # optional: a conditional model

The run saves the same table with its config, so ``rnnkit music generate`` knows how the
model was trained. A run saved by an older rnnkit kept these settings in ``[data]`` (``format
= "abc"``, ``condition``); :func:`~rnnkit.training.config.upgrade_saved_config` moves them to
the run's ``task`` table, and :func:`saved_music_config` reads them there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from rnnkit.tasks.recipe import check_keys, check_recipe_task
from rnnkit.training.config import replace_section
from rnnkit.validation import Rule, check_fields

NAME = "music"
CONDITIONS = ("key_meter",)
# The [data] key an older rnnkit saved and the value that meant "ABC tunes, by tune".
LEGACY_FORMAT = ("format", "abc")


@dataclass(frozen=True)
class MusicConfig:
    """What music adds to a character language model of ABC tunes, which it always reads as
    whole tunes (the split puts whole tunes, drawn with ``[data] split_seed``, into
    training and validation).

    ``condition = "key_meter"`` gives every character its tune's key and meter class, fed
    to the model with it (a conditional model, which ``rnnkit music generate --key K
    --meter M`` asks for a key and meter); it needs ``[data] level = "char"``.
    """

    condition: str | None = None

    RANGES: ClassVar[dict[str, Rule]] = {"condition": CONDITIONS}
    HELP: ClassVar[dict[str, str]] = {
        "condition": "key and meter classes fed with every character (a conditional model)"}

    def __post_init__(self) -> None:
        check_fields(self)

    def table(self) -> dict[str, Any]:
        """The ``[task]`` table of these settings, as a run saves it."""
        return {"name": NAME, **asdict(self)}

    def check_data(self, data: Any) -> None:
        """Refuse a ``[data]`` these settings cannot read: condition ids are one per
        character (the characters of a tune share its classes), so a word-level
        vocabulary has no place for them."""
        if self.condition is not None and data.level != "char":
            raise ValueError(f"[task] condition = {self.condition!r} needs [data] level = "
                             f"'char' (one key and meter per character), got level = "
                             f"{data.level!r}")


def music_config_from_table(table: Any, config: str | None = None) -> MusicConfig:
    """The settings of a recipe's ``[task]`` table (``None``: no table, the defaults).

    The table must name music; an unknown key is refused with the closest valid name.
    ``config`` is the recipe as ``--config`` named it, for the errors.
    """
    if table is None:
        return MusicConfig()
    where = f"config file {config}" if config is not None else "the run's saved config"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: [task] must be a table of keys, got "
                         f"{type(table).__name__}")
    check_recipe_task(table.get("name"), NAME, where, str(config))
    values = {key: value for key, value in table.items() if key != "name"}
    check_keys("task", values, {"task": frozenset(f.name for f in fields(MusicConfig))},
               where)
    return replace_section(MusicConfig(), values, "task", config)


def saved_music_config(table: dict[str, Any]) -> MusicConfig | None:
    """The music settings of a run's saved ``task`` table (upgraded:
    :func:`~rnnkit.training.config.upgrade_saved_config`); ``None`` for a run saved
    without one, a plain language model's. Another task's table is refused."""
    if not table:
        return None
    values = _named(table)
    if not is_music_table(values):
        raise ValueError(f"this run was trained by another task ({table!r}), not by "
                         f"rnnkit music train")
    return music_config_from_table(values)


def is_music_table(table: dict[str, Any]) -> bool:
    """Whether a run's saved ``task`` table is music's (an older rnnkit's included)."""
    return _named(table).get("name") == NAME


def _named(table: dict[str, Any]) -> dict[str, Any]:
    """An older rnnkit's ABC run had no table of its own: its upgraded ``[data]`` keys say
    music without naming it."""
    legacy_key, legacy_value = LEGACY_FORMAT
    if table.get(legacy_key) != legacy_value or "name" in table:
        return table
    return {"name": NAME, **{k: v for k, v in table.items() if k != legacy_key}}
