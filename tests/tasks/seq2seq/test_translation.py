"""The translation task end to end on a tiny catalogue, `rnnkit translate` on its
checkpoints, and `rnnkit train --task seq2seq` standing for the pair commands."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.cli.dispatch import train_argv
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.seq2seq.translation import (
    TranslationConfig,
    load_translation_data,
    train_translation,
)

MESSAGES = {"Save": "Sichern", "Delete": "Löschen", "Add": "Hinzufügen", "Name": "Name",
            "Date": "Datum", "Time": "Zeit", "Yes": "Ja", "No": "Nein", "Back": "Zurück",
            "Next": "Weiter", "Log out": "Abmelden"}
CATALOGUE = "".join(f'msgid "{english}"\nmsgstr "{german}"\n\n'
                    for english, german in MESSAGES.items())


def tiny_config(out_dir: Path, **values) -> TranslationConfig:
    settings = dict(max_epochs=2, batch_size=4, valid_fraction=0.2, test_fraction=0.2,
                    out_dir=str(out_dir), progress=False, device="cpu", max_output=12,
                    beam_width=2)
    settings.update(values)
    return TranslationConfig(**settings)


def test_split_and_character_tables() -> None:
    data = load_translation_data(tiny_config(Path("unused")), CATALOGUE)
    assert [len(data.splits[n]) for n in ("train", "valid", "test")] == [7, 2, 2]
    every_english = "".join(MESSAGES)
    assert set(data.source.symbols[3:]) == set(every_english)
    train_german = "".join(german for _, german in data.splits["train"])
    assert set(data.target.symbols[3:]) == set(train_german)


@pytest.mark.parametrize("architecture", ["rnn", "transformer"])
def test_training_writes_bleu_results_and_translate_reads_them(
        tmp_path: Path, architecture: str, monkeypatch, capsys) -> None:
    results = train_translation(tiny_config(tmp_path),
                                Seq2SeqConfig(hidden_size=16, embedding_size=8, num_heads=2,
                                              architecture=architecture),
                                text=CATALOGUE)
    for key in ("test_greedy", "test_beam"):
        assert set(results[key]) == {"bleu", "chrf"}
        assert 0.0 <= results[key]["chrf"] <= 100.0
    assert len(results["examples"]) == 2
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["split_pairs"] == {"train": 7, "valid": 2, "test": 2}
    monkeypatch.setattr("sys.stdin", io.StringIO("Save\nNext Date\n"))
    assert main(["translate", "--checkpoint", str(tmp_path), "--beam-width", "2"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [
        "Save", "Next Date"]
    monkeypatch.setattr("sys.stdin", io.StringIO("Save\n\n"))
    assert main(["translate", "--checkpoint", str(tmp_path)]) == 1
    assert "line 2 is empty" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("Save!\n"))
    assert main(["translate", "--checkpoint", str(tmp_path)]) == 1
    assert "unknown symbol '!' at position 4 of line 1 'Save!'" in capsys.readouterr().err


def test_train_task_seq2seq_stands_for_the_pair_commands(tmp_path: Path) -> None:
    assert train_argv(["train", "--task", "seq2seq", "--dataset", "cmudict",
                       "--attention", "dot"]) == ["g2p", "train", "--attention", "dot"]
    assert train_argv(["train", "--dataset", "django_de", "--task", "seq2seq"]) == [
        "translation", "train"]
    assert train_argv(["train", "--task", "language-model", "--lr", "1"]) == [
        "train", "--lr", "1"]
    assert train_argv(["sample", "--task", "x"]) == ["sample", "--task", "x"]
    with pytest.raises(ValueError, match="--task seq2seq needs --dataset"):
        train_argv(["train", "--task", "seq2seq"])
    with pytest.raises(ValueError, match="got --dataset 'shakespeare'"):
        train_argv(["train", "--task", "seq2seq", "--dataset", "shakespeare"])
    with pytest.raises(SystemExit):
        main(["train", "--task", "nonsense"])


def test_a_transformer_too_short_for_the_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"needs max_length >= 13 \(longest sequence 11, "
                                         r"max_output 12 \+ 1\), got 8"):
        train_translation(tiny_config(tmp_path),
                          Seq2SeqConfig(architecture="transformer", hidden_size=8, num_heads=2,
                                        max_length=8), text=CATALOGUE)


def test_decoding_keeps_the_order_of_its_sources_and_bounds_outputs_by_length() -> None:
    """Sources are decoded shortest first but come back in their own order, each as it
    decodes alone; ``output_ratio`` bounds an output by its chunk's longest source."""
    import torch

    from rnnkit.models.factory import build_seq2seq
    from rnnkit.tasks.seq2seq.pair_training import decode_sources

    torch.manual_seed(0)
    model = build_seq2seq(Seq2SeqConfig(source_vocab_size=9, target_vocab_size=7,
                                        hidden_size=8, embedding_size=4)).eval()
    with torch.no_grad():
        model.output.bias[2] = -100.0  # never the end token: every output runs to its bound
    sources = [[3, 4, 5, 6, 7, 8], [4], [5, 6]]
    together = decode_sources(model, sources, max_output=40)
    assert together == [decode_sources(model, [source], max_output=40)[0]
                        for source in sources]
    assert [len(output) for output in together] == [40, 40, 40]
    bounded = decode_sources(model, sources, max_output=40, output_ratio=2.0)
    assert [len(output) for output in bounded] == [22, 22, 22]  # 2 * 6 + 10, one chunk
    assert [len(output) for output in decode_sources(model, [[4]], 40, output_ratio=2.0)] \
        == [12]


def test_validation_every_few_epochs_and_at_the_last(tmp_path: Path) -> None:
    results = train_translation(tiny_config(tmp_path, max_epochs=5, eval_every_epochs=2),
                                Seq2SeqConfig(hidden_size=8, embedding_size=4),
                                text=CATALOGUE)
    assert [row["epoch"] for row in results["history"]] == [2, 4, 5]
    with pytest.raises(ValueError, match="eval_every_epochs must be an int >= 1"):
        tiny_config(tmp_path, eval_every_epochs=0)
