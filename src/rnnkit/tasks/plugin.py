"""What a task hands the ``rnnkit`` command."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnkit.data.corpus import CorpusLoader

# ``rest`` of ``rnnkit train --task NAME REST`` in, the argv of the task's own command out.
TrainArgv = Callable[[list[str]], list[str]]
# A run folder and an optional file to score instead of the run's test part, in; the
# figures as a JSON-ready dict out, or ``None`` when the run is another task's.
CheckpointEvaluator = Callable[[str, str | None], dict[str, Any] | None]
# A language-model run's saved ``task`` table in; the loader of the run's corpus
# (``load(data, vocab_dict) -> Corpus``) out, or ``None`` when the run is another task's.
RunCorpus = Callable[[dict[str, Any]], CorpusLoader | None]
# A run folder and ``rnnkit predict``'s ``--input`` and ``--column`` in; ``True`` once the
# answer is printed, ``False`` when the run is another task's.
CheckpointPredictor = Callable[[str, str | None, str | None], bool]


@dataclass(frozen=True)
class Plugin:
    """A task's (or a tool's) part of the ``rnnkit`` command.

    ``add_commands`` adds its subcommands to the top-level subparsers of the parser.
    ``train_tasks`` names what it answers to in ``rnnkit train --task NAME``, each with the
    command line that stands for it. ``evaluate_checkpoint`` serves ``rnnkit eval
    --checkpoint DIR`` for the run folders it wrote. ``run_corpus`` serves it for the
    language-model runs of a task built on the language model: the run is scored as a
    language model, on the corpus the task reads. ``predict`` serves ``rnnkit predict
    --checkpoint DIR`` for its run folders. ``recipe_commands`` names the command that
    trains a recipe whose ``[task] name`` is a key, where that is not ``rnnkit <name> train``.
    """

    add_commands: Callable[[Any], None]
    train_tasks: Mapping[str, TrainArgv] = field(default_factory=dict)
    evaluate_checkpoint: CheckpointEvaluator | None = None
    run_corpus: RunCorpus | None = None
    predict: CheckpointPredictor | None = None
    recipe_commands: Mapping[str, str] = field(default_factory=dict)
