"""The playground page in a real browser: Debian's chromium, driven by Playwright, against
the folder ``rnnkit web`` wrote, served on 127.0.0.1.

What the page shows is held to independent references: greedy text to ``rnnkit sample
--temperature 0``, a unit's values and the next-character distribution to torch.nn's
cells run on the same text, a tune's verdict to :func:`rnnkit.music.validate.check_tune`.
Every page is watched for console errors and requests beyond 127.0.0.1 and leaves a
screenshot (page_harness.py).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from page_harness import chromium, watched_page

from rnnkit.cli import main
from rnnkit.inference import load_language_model
from rnnkit.music.validate import check_tune

TOLERANCE = 1e-4
WORDS = ["the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ", "ran ", '"hi" ', "(so) "]
PRIME = "the "
TUNE = """X:1
T:The Test Jig
M:6/8
L:1/8
K:D
|:A|dfa afd|cec ABc|dfa afd|ecA A2:|
|:g|fdf ede|cAc ABc|dfa gec|d3 d2:|"""
REEL = "X:2\nT:The Test Reel\nM:C|\nL:1/8\nK:G Major\nB|GABc dBGB|cBAG A4:|"


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def train_text_model(folder: Path, cell: str) -> Path:
    rng = random.Random(0)
    text = folder / "words.txt"
    text.write_text("".join(rng.choice(WORDS) for _ in range(3000)), encoding="utf-8")
    layers = ["--num-layers", "1"] if cell.startswith("min") else []  # residual blocks
    status = main(["train", "--text-file", str(text), "--out-dir", str(folder / cell),
                   "--cell", cell, *layers, "--hidden-size", "32", "--embedding-size", "8",
                   "--batch-size", "8", "--seq-len", "32", "--lr", "0.02", "--max-steps", "200",
                   "--eval-every", "200", "--no-progress", "--no-tensorboard",
                   "--sample-length", "5"])
    assert status == 0
    return folder / cell


@pytest.fixture(scope="module")
def playgrounds(tmp_path_factory):
    """``playgrounds(cell)``: a small two-layer model of the words above and its
    playground, trained once per cell for the whole module."""
    made: dict[str, tuple[Path, Path]] = {}

    def playground(cell: str) -> tuple[Path, Path]:
        if cell not in made:
            folder = tmp_path_factory.mktemp(cell)
            run = train_text_model(folder, cell)
            assert main(["web", "--checkpoint", str(run), "--out", str(folder / "web")]) == 0
            made[cell] = run, folder / "web"
        return made[cell]

    return playground


@pytest.fixture(params=["lstm", "gru"])
def text_run(request, playgrounds) -> tuple[Path, Path]:
    return playgrounds(request.param)


def write(page, *, prime: str, temperature: str, length: str, seed: str = "1") -> str:
    """Fill the form, generate, wait for the end; the text as the page shows it."""
    page.fill("#prime", prime)
    page.fill("#temperature", temperature)
    page.fill("#length", length)
    page.fill("#seed", seed)
    page.click("#generate")
    page.wait_for_function(f"document.getElementById('status').dataset.generated === '{length}'"
                           " && document.body.dataset.state === 'ready'", timeout=60_000)
    return page.text_content("#text-output")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "mingru", "minlstm"])
def test_greedy_text_equals_rnnkit_sample_at_temperature_zero(browser, playgrounds, cell,
                                                              capsys):
    run, web = playgrounds(cell)
    capsys.readouterr()  # what training printed
    assert main(["sample", "--checkpoint", str(run), "--prime", PRIME, "--length", "150",
                 "--temperature", "0"]) == 0
    expected = capsys.readouterr().out.removesuffix("\n")
    assert len(set(expected[len(PRIME):])) > 2  # a text worth comparing, not one letter
    with watched_page(browser, web, f"greedy-{run.name}") as page:
        shown = write(page, prime=PRIME, temperature="0", length="150")
    assert shown == expected


def reference_values(run: Path, text: str) -> dict[str, np.ndarray]:
    """Every layer's values after each character of ``text``, from torch.nn's own cells
    with the checkpoint's weights: ``"<layer>/<channel>"`` -> (time, hidden)."""
    loaded = load_language_model(run, device="cpu")
    model, config = loaded.model, loaded.config.model
    ids = torch.tensor(loaded.vocab.encode(text))
    x = model.embedding.weight.detach()[ids]  # (time, embedding)
    values: dict[str, np.ndarray] = {}
    for layer in range(config.num_layers):
        weights = {name: getattr(model.rnn, f"{name}_l{layer}").detach()
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        outputs = _run_cell(config.cell, weights, x, config.hidden_size)
        values.update({f"{layer}/{name}": rows for name, rows in outputs.items()})
        x = torch.from_numpy(outputs["hidden"])
    return values


def _run_cell(cell: str, weights: dict[str, torch.Tensor], x: torch.Tensor,
              hidden: int) -> dict[str, np.ndarray]:
    torch_cell = (torch.nn.LSTMCell if cell == "lstm" else torch.nn.GRUCell)(x.shape[1], hidden)
    with torch.no_grad():
        for name, tensor in weights.items():
            getattr(torch_cell, name).copy_(tensor)
        h = torch.zeros(1, hidden)
        c = torch.zeros(1, hidden)
        rows: dict[str, list[torch.Tensor]] = {}
        for step in x:
            gates = step[None] @ weights["weight_ih"].T + weights["bias_ih"]
            if cell == "lstm":
                gates = gates + h @ weights["weight_hh"].T + weights["bias_hh"]
                rows.setdefault("input_gate", []).append(torch.sigmoid(gates[:, :hidden]))
                rows.setdefault("forget_gate", []).append(
                    torch.sigmoid(gates[:, hidden:2 * hidden]))
                h, c = torch_cell(step[None], (h, c))
                rows.setdefault("cell", []).append(c)
            else:
                recurrent = h @ weights["weight_hh"].T + weights["bias_hh"]
                rows.setdefault("update_gate", []).append(
                    torch.sigmoid(gates[:, hidden:2 * hidden] + recurrent[:, hidden:2 * hidden]))
                h = torch_cell(step[None], h)
            rows.setdefault("hidden", []).append(h)
    return {name: torch.cat(parts).numpy() for name, parts in rows.items()}


def shown_values(page, layer: int, channel: str, unit: int) -> np.ndarray:
    page.select_option("#layer", index=layer)  # a value could also match a label
    page.select_option("#channel", label=channel.replace("_", " "))
    page.fill("#unit", str(unit))
    page.dispatch_event("#unit", "input")
    values = page.eval_on_selector_all("#text-output span",
                                       "spans => spans.map(span => span.dataset.value)")
    return np.array([float(value) for value in values])


def test_a_units_values_equal_torch_nn_cells_on_the_same_text(browser, text_run):
    run, web = text_run
    channels = (["cell", "hidden", "input_gate", "forget_gate"] if run.name == "lstm"
                else ["hidden", "update_gate"])
    with watched_page(browser, web, f"activations-{run.name}") as page:
        text = write(page, prime='a "hi" the cat', temperature="0.8", length="60", seed="7")
        expected = reference_values(run, text)
        for layer in (0, 1):
            for channel in channels:
                unit = 3 + layer
                shown = shown_values(page, layer, channel, unit)
                want = expected[f"{layer}/{channel}"][:, unit]
                assert shown.shape == want.shape
                np.testing.assert_allclose(shown, want, atol=TOLERANCE, rtol=0,
                                           err_msg=f"layer {layer} {channel} unit {unit}")


def test_the_distribution_view_shows_the_models_top_ten(browser, text_run):
    run, web = text_run
    loaded = load_language_model(run, device="cpu")
    with watched_page(browser, web, f"distribution-{run.name}") as page:
        text = write(page, prime="the cat ", temperature="1", length="40", seed="3")
        position = 12
        page.click(f"#text-output span[data-index='{position}']")
        bars = page.eval_on_selector_all(
            "#distribution-bars li",
            "items => items.map(item => [item.dataset.character, item.dataset.probability])")
        page.focus("#text-output")
        page.keyboard.press("ArrowRight")  # the keyboard moves the view on by one character
        caption = page.text_content("#distribution-caption")
    with torch.no_grad():
        logits, _ = loaded.model(torch.tensor([loaded.vocab.encode(text[:position + 1])]))
    probabilities = torch.softmax(logits[0, -1].double(), dim=-1)
    top = torch.topk(probabilities, 10)
    assert [character for character, _ in bars] == [loaded.vocab.tokens[i] for i in top.indices]
    np.testing.assert_allclose([float(p) for _, p in bars], top.values.numpy(), atol=1e-5)
    assert f"(character {position + 2})" in caption


FEATURES = {  # the page's feature name -> the same feature of a text, per character
    "line": lambda text: np.array([len(text[:i + 1].rsplit("\n", 1)[-1]) for i in
                                   range(len(text))]),
    "space": lambda text: np.array([c in " \n" for c in text], dtype=float),
    "vowel": lambda text: np.array([c in "aeiouAEIOU" for c in text], dtype=float),
}


@pytest.mark.parametrize("feature", FEATURES)
def test_the_unit_search_finds_the_most_correlated_unit(browser, text_run, feature):
    run, web = text_run
    with watched_page(browser, web, f"unit-search-{feature}-{run.name}") as page:
        text = write(page, prime=PRIME, temperature="1", length="300", seed="5")
        page.select_option("#feature", feature)
        page.click("#find-unit")
        result = page.text_content("#search-result")
        ranked = page.eval_on_selector_all("#search-list button",
                                           "buttons => buttons.map(b => b.textContent)")
        values = page.eval_on_selector_all("#text-output span",
                                           "spans => spans.map(span => +span.dataset.value)")
    target = FEATURES[feature](text)
    reported = float(result.rsplit("r = ", 1)[1].rstrip("."))
    assert reported == pytest.approx(np.corrcoef(values, target)[0, 1], abs=1e-3), result
    listed = [abs(float(entry.rsplit("r = ", 1)[1])) for entry in ranked]
    assert len(listed) == 5 and listed == sorted(listed, reverse=True)
    # No unit torch computes (the channels reference_values has) follows the text better.
    best = max(np.abs(np.nan_to_num(np.corrcoef(rows.T, target)[-1, :-1])).max()
               for rows in reference_values(run, text).values())
    assert abs(reported) >= best - 1e-3


def test_the_page_is_usable_at_phone_width_and_labels_every_control(browser, text_run):
    _, web = text_run
    with watched_page(browser, web, "phone-width", width=375, height=800) as page:
        overflow = page.evaluate("document.documentElement.scrollWidth")
        unlabelled = page.evaluate(
            "[...document.querySelectorAll('input, select, textarea')]"
            ".filter(control => control.labels.length === 0).map(control => control.id)")
        described = page.evaluate(
            "[...document.querySelectorAll('#text-page :is(input, select, textarea)')]"
            ".filter(control => control.type !== 'checkbox')"
            ".filter(control => !control.getAttribute('aria-describedby'))"
            ".map(control => control.id)")
        page.focus("#prime")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
    assert overflow <= 375
    assert unlabelled == []
    assert described == []
    assert focused == "temperature"


def test_a_bad_setting_is_named_in_one_line_and_nothing_is_written(browser, playgrounds):
    _, web = playgrounds("lstm")
    with watched_page(browser, web, "bad-setting") as page:
        page.fill("#temperature", "-1")
        page.click("#generate")
        temperature = page.text_content("#status")
        page.fill("#temperature", "0.5")
        page.fill("#prime", "the €")
        page.click("#generate")
        prime = page.text_content("#status")
        written = page.text_content("#text-output")
    assert temperature == 'Temperature must be a number from 0 to 5, got "-1"'
    assert prime == 'Prime: the character "€" is not in the model\'s vocabulary'
    assert written == ""


@pytest.fixture(scope="module", params=["header", "vector"])
def music_web(request, tmp_path_factory) -> Path:
    """A small LSTM that has learned a jig in D (6/8) and a reel in G (C|) by heart, and its
    playground: asked for a key and meter by header priming, or (vector) a conditional
    model fed their classes."""
    folder = tmp_path_factory.mktemp(f"music-web-{request.param}")
    tunes = folder / "tunes.abc"
    tunes.write_text("\n\n".join([TUNE, REEL] * 20), encoding="utf-8")
    conditions = ["--condition", "key_meter"] if request.param == "vector" else []
    assert main(["music", "train", "--text-file", str(tunes), "--out-dir",
                 str(folder / "run"), "--hidden-size", "64", "--embedding-size", "16",
                 "--num-layers", "1", "--batch-size", "8", "--seq-len", "64", "--lr", "0.01",
                 "--max-steps", "200", "--eval-every", "200", "--no-progress",
                 "--no-tensorboard", "--sample-length", "5", *conditions]) == 0
    assert main(["web", "--checkpoint", str(folder / "run"), "--out", str(folder / "web")]) == 0
    return folder / "web"


# What each kind of request asks for, and the tune that answers it.
REQUESTS = {"header": ("D major", "6/8", "The Test Jig"),
            "vector": ("G major", "2/2", "The Test Reel")}


def test_a_tune_is_drawn_as_notes_checked_like_python_and_played(browser, music_web):
    kind = music_web.parent.name.removeprefix("music-web-").rstrip("0123456789")
    key, meter, title = REQUESTS[kind]
    with watched_page(browser, music_web, f"music-{kind}") as page:
        keys = page.eval_on_selector_all("#key option", "options => options.map(o => o.text)")
        meters = page.eval_on_selector_all("#meter option",
                                           "options => options.map(o => o.text)")
        page.select_option("#key", label=key)
        page.select_option("#meter", label=meter)
        page.fill("#music-temperature", "0.5")
        page.click("#compose")
        page.wait_for_function("document.getElementById('verdict').dataset.valid !== undefined"
                               " && document.body.dataset.state === 'ready'", timeout=60_000)
        tune = page.text_content("#abc")
        valid = page.get_attribute("#verdict", "data-valid")
        notes = page.locator("#score svg .abcjs-note").count()
        page.click("#play")
        page.wait_for_function("['playing', 'error'].includes(document.body.dataset.state)",
                               timeout=30_000)
        state = page.get_attribute("body", "data-state")
        status = page.text_content("#status")
        page.click("#stop-playing")
    assert keys == ["any key", "D major", "G major"]
    assert sorted(meters) == ["2/2", "6/8", "any meter"]
    assert f"T:{title}" in tune, tune
    check = check_tune(tune)
    assert (check.key, check.meter) == (key, meter)
    assert valid == str(check.valid).lower()
    assert check.valid or kind == "vector"  # seen: the small conditional model wrote X:1/8
    assert notes >= 10
    assert state == "playing", status
