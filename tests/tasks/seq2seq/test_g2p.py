"""The G2P loop end to end on a tiny dictionary, and the translate command's errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.seq2seq.g2p import G2PConfig, load_g2p_data, train_g2p

WORDS = {"cat": "K AE1 T", "cap": "K AE1 P", "tap": "T AE1 P", "pat": "P AE1 T",
         "at": "AE1 T", "apt": "AE1 P T", "tat": "T AE1 T", "pact": "P AE1 K T",
         "tact": "T AE1 K T", "cab": "K AE1 B", "tab": "T AE1 B", "bat": "B AE1 T",
         "bap": "B AE1 P", "act": "AE1 K T", "back": "B AE1 K", "pack": "P AE1 K"}
TEXT = "".join(f"{word} {phonemes}\n" for word, phonemes in WORDS.items()) + "cat(2) K AA1 T\n"


def tiny_config(out_dir: Path, **values) -> G2PConfig:
    settings = dict(max_epochs=2, batch_size=4, eval_words=10, valid_fraction=0.125,
                    test_fraction=0.125, out_dir=str(out_dir), progress=False, device="cpu")
    settings.update(values)
    return G2PConfig(**settings)


def test_split_and_symbol_tables() -> None:
    data = load_g2p_data(tiny_config(Path("unused")), TEXT)
    assert [len(data.splits[n]) for n in ("train", "valid", "test")] == [12, 2, 2]
    assert set(data.letters.symbols[3:]) == set("abcktp")
    pairs = data.pairs("train")
    assert len(pairs) == sum(len(p) for p in data.splits["train"].values())


@pytest.mark.parametrize(("attention", "architecture"),
                         [("none", "rnn"), ("dot", "rnn"), ("none", "transformer")])
def test_training_writes_results_and_checkpoints(tmp_path: Path, attention: str,
                                                 architecture: str) -> None:
    results = train_g2p(tiny_config(tmp_path),
                        Seq2SeqConfig(hidden_size=16, embedding_size=8, attention=attention,
                                      architecture=architecture, num_heads=2),
                        text=TEXT)
    assert [row["epoch"] for row in results["history"]] == [1, 2]
    for key in ("test_greedy", "test_beam"):
        assert 0.0 <= results[key]["word_error_rate"] <= 1.0
    assert sum(row["words"] for row in results["test_by_length"]) == 2
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["split_words"] == {"valid": 2, "test": 2, "train": 12}
    assert (tmp_path / "best.json").exists() and (tmp_path / "latest.json").exists()


def test_the_loop_learns_the_training_words(tmp_path: Path) -> None:
    """Thirty epochs on twelve words: the greedy output of the training words is right for
    most of them (the loop really trains)."""
    from rnnkit.tasks.seq2seq.g2p import evaluate_words

    config = tiny_config(tmp_path, max_epochs=30, lr=1e-2)
    train_g2p(config, Seq2SeqConfig(hidden_size=32, embedding_size=16, dropout=0.0),
              text=TEXT)
    from rnnkit.tasks.seq2seq.g2p import load_g2p_model

    model, _, _ = load_g2p_model(tmp_path, tag="latest")
    rates = evaluate_words(model, load_g2p_data(config, TEXT), "train", config)
    assert rates["word_error_rate"] <= 0.25


def test_translate_reads_words_and_names_bad_lines(tmp_path: Path, monkeypatch,
                                                   capsys) -> None:
    train_g2p(tiny_config(tmp_path, max_epochs=1),
              Seq2SeqConfig(hidden_size=16, embedding_size=8), text=TEXT)
    monkeypatch.setattr("sys.stdin", io.StringIO("cat\nTAP\n"))
    assert main(["translate", "--checkpoint", str(tmp_path), "--beam-width", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["cat", "TAP"]  # as given
    monkeypatch.setattr("sys.stdin", io.StringIO("cat\n\n"))
    assert main(["translate", "--checkpoint", str(tmp_path)]) == 1
    assert "line 2 is empty" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("cat\ncaz\n"))
    assert main(["translate", "--checkpoint", str(tmp_path)]) == 1
    assert "unknown symbol 'z' at position 2 of line 2 'caz'" in capsys.readouterr().err


def test_attention_maps_are_drawn_and_refused_without_attention(tmp_path: Path) -> None:
    from rnnkit.tasks.seq2seq.g2p import attention_weights, load_g2p_model

    train_g2p(tiny_config(tmp_path / "a", max_epochs=1),
              Seq2SeqConfig(hidden_size=16, embedding_size=8, attention="general"), text=TEXT)
    assert main(["g2p", "attention", "--checkpoint", str(tmp_path / "a"), "--words", "cat",
                 "pact", "--out", str(tmp_path / "maps.png")]) == 0
    assert (tmp_path / "maps.png").read_bytes()[:4] == b"\x89PNG"
    model, letters, phonemes = load_g2p_model(tmp_path / "a")
    output, weights = attention_weights(model, letters, phonemes, "pact")
    assert weights.shape == (len(output) + 1, 4)
    train_g2p(tiny_config(tmp_path / "n", max_epochs=1),
              Seq2SeqConfig(hidden_size=16, embedding_size=8, attention="none"), text=TEXT)
    model, letters, phonemes = load_g2p_model(tmp_path / "n")
    with pytest.raises(ValueError, match="no attention weights to show"):
        attention_weights(model, letters, phonemes, "cat")


def test_a_limited_evaluation_spans_the_whole_word_list(tmp_path: Path, monkeypatch) -> None:
    from rnnkit.tasks.seq2seq import g2p

    data = load_g2p_data(tiny_config(tmp_path), TEXT)
    seen: list[list[str]] = []
    monkeypatch.setattr(g2p, "decode_words",
                        lambda model, data, words, config, beam_width=1:
                        seen.append(words) or [["AE1"]] * len(words))
    g2p.evaluate_words(None, data, "train", tiny_config(tmp_path), limit=4)
    everything = list(data.splits["train"])
    assert len(seen[0]) == 4 and seen[0][0] == everything[0]
    assert seen[0][-1] == everything[9]  # every third of twelve words, not the first four


def test_stress_stripping_merges_pronunciations_that_differ_only_in_stress() -> None:
    from rnnkit.tasks.seq2seq.g2p import strip_stress

    entries = {"read": [("R", "IY1", "D"), ("R", "EH1", "D")],
               "an": [("AE1", "N"), ("AH0", "N"), ("AE0", "N")]}
    assert strip_stress(entries) == {"read": [("R", "IY", "D"), ("R", "EH", "D")],
                                     "an": [("AE", "N"), ("AH", "N")]}
    data = load_g2p_data(tiny_config(Path("unused"), strip_stress=True), TEXT)
    assert not any(symbol[-1].isdigit() for symbol in data.phonemes.symbols)


def test_scoring_without_stress_forgives_only_the_stress(tmp_path: Path, monkeypatch) -> None:
    from rnnkit.tasks.seq2seq import g2p

    data = load_g2p_data(tiny_config(tmp_path), TEXT)
    words = list(data.splits["train"])

    def unstressed_answers(model, data, chosen, config, beam_width=1):
        """Each word's first pronunciation with every stress made 0, one word also wrong
        in a phoneme."""
        answers = [[phoneme.rstrip("012") + "0" if phoneme[-1].isdigit() else phoneme
                    for phoneme in data.splits["train"][word][0]] for word in chosen]
        answers[0] = ["Z", *answers[0][1:]]
        return answers

    monkeypatch.setattr(g2p, "decode_words", unstressed_answers)
    config = tiny_config(tmp_path)
    assert g2p.evaluate_words(None, data, "train", config)["word_error_rate"] == 1.0
    stressless = g2p.evaluate_words(None, data, "train", config, strip_stress=True)
    assert stressless == {"word_error_rate": 1 / len(words),
                          "phoneme_error_rate": 1 / sum(
                              len(min(data.splits["train"][word], key=len)) for word in words)}


def test_the_rate_decays_when_validation_stops_improving(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"lr_decay must be a finite number in \(0, 1\]"):
        tiny_config(tmp_path, lr_decay=0.0)
    config = tiny_config(tmp_path, max_epochs=6, lr=1e-2, lr_decay=0.5)
    history = train_g2p(config, Seq2SeqConfig(hidden_size=8, embedding_size=4),
                        text=TEXT)["history"]
    rates = [row["lr"] for row in history]
    assert rates[-1] < rates[0]
    best, stale, expected = float("inf"), 0, 1e-2
    for row, lr in zip(history, rates, strict=True):
        assert lr == pytest.approx(expected)  # the rate the epoch trained with
        if row["word_error_rate"] < best * 0.99:
            best, stale = row["word_error_rate"], 0
        else:
            stale += 1
            if stale > 1:
                expected, stale = expected / 2, 0


def test_warmup_raises_the_rate_linearly_over_its_steps(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="warmup_steps must be an int >= 0"):
        tiny_config(tmp_path, warmup_steps=-1)
    history = train_g2p(tiny_config(tmp_path, max_epochs=2, lr=1e-2, warmup_steps=100),
                        Seq2SeqConfig(hidden_size=8, embedding_size=4), text=TEXT)["history"]
    per_epoch = 4  # 13 training pairs in batches of 4
    assert [row["lr"] for row in history] == pytest.approx(
        [1e-2 * per_epoch / 100, 1e-2 * 2 * per_epoch / 100])


def test_a_run_can_start_from_another_runs_best_weights(tmp_path: Path) -> None:
    import torch

    from rnnkit.tasks.seq2seq.g2p import load_g2p_model
    from rnnkit.tasks.seq2seq.pair_training import build_pair_model

    model_config = Seq2SeqConfig(hidden_size=8, embedding_size=4)
    train_g2p(tiny_config(tmp_path / "first", max_epochs=1), model_config, text=TEXT)
    first, _, _ = load_g2p_model(tmp_path / "first")
    config = tiny_config(tmp_path / "second", init_from=str(tmp_path / "first"))
    data = load_g2p_data(config, TEXT)
    started = build_pair_model(model_config, data.letters, data.phonemes,
                               torch.device("cpu"), 10, config)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, started.state_dict()[name]), name
    with pytest.raises(ValueError, match=r"its model differs from this one in \{'hidden_size'"):
        train_g2p(config, Seq2SeqConfig(hidden_size=16, embedding_size=4), text=TEXT)
