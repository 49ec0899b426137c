"""The import graph of the package, read from its import statements (module level and
inside functions alike): no import cycle, and every task is plugged in. The floors (the
library never imports a task or the CLI, tasks apart) are import-linter's contracts in
pyproject.toml, checked by `lint-imports` in `make test`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"


def module_files() -> dict[str, Path]:
    """``rnnkit.x.y`` -> its file, for every module of the package."""
    modules = {}
    for path in sorted((SOURCE / "rnnkit").rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(name: str, path: Path) -> set[str]:
    """Every module name an import statement of ``path`` names, relative ones resolved,
    ``from a import b`` counted as ``a.b`` too (b may be a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1]
            module = (".".join([*base, node.module] if node.module else base) if node.level
                      else node.module)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: {other for other in imported_names(name, path)
                   if other in modules and other != name}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while (top := stack.pop()) != module:
                component.append(top)
            if component:
                found.append(sorted([module, *component]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


GRAPH = import_graph()


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    planted = {name: set(imports) for name, imports in GRAPH.items()}
    planted["rnnkit.layers.base"].add("rnnkit.training.trainer")  # trainer reaches layers
    assert any("rnnkit.layers.base" in cycle for cycle in cycles(planted))


def test_the_public_api_imports_no_task_and_not_the_cli() -> None:
    """The root package is outside import-linter's contracts (pyproject.toml), which
    cover every library package below it."""
    assert {name for name in GRAPH["rnnkit"]
            if name.startswith(("rnnkit.tasks", "rnnkit.cli"))} == set()


def test_every_task_package_is_in_the_registry() -> None:
    """A task folder with commands and no line in rnnkit.cli.registry is unreachable."""
    registry = GRAPH["rnnkit.cli.registry"]
    with_commands = {name for name in GRAPH
                     if name.startswith("rnnkit.tasks.") and name.endswith(".commands")}
    assert with_commands and with_commands <= registry


def test_no_module_of_the_training_package_is_named_after_a_task() -> None:
    """training/ holds the loop and what every task shares; a task's own code lives in its
    package under rnnkit.tasks."""
    task_words = ("classif", "tagg", "forecast", "g2p", "translation", "long_range",
                  "music", "seq2seq", "pair")
    named = [module for module in GRAPH if module.startswith("rnnkit.training.")
             and any(word in module.rpartition(".")[2] for word in task_words)]
    assert named == []


def test_the_loop_and_the_language_model_know_no_music() -> None:
    """Music plugs into the language model from tasks/music: neither the loop nor the
    language model imports it or names its ABC text or key/meter conditions (the issue's
    ``grep -rn "abc\\|key_meter"``, ``collections.abc`` aside)."""
    modules = module_files()
    core = [name for name in modules
            if name.startswith(("rnnkit.training", "rnnkit.tasks.language_model"))]
    assert len(core) > 20
    music = {name for name in core for other in GRAPH[name]
             if other.startswith(("rnnkit.music", "rnnkit.tasks.music"))}
    assert music == set()
    mentions = [f"{name}: {line.strip()}" for name in core
                for line in modules[name].read_text(encoding="utf-8").splitlines()
                if re.search("abc|key_meter", line.replace("collections.abc", ""))]
    assert mentions == []
