"""`rnnkit train --task tag` on a CoNLL file of yours, `rnnkit predict` on its run, and the
errors of `rnnkit eval` for a malformed line and for a tag the model never saw."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rnnkit.cli import main

SENTENCES = [[("Alice", "B-PER"), ("saw", "O"), ("Bob", "B-PER")],
             [("Paris", "B-LOC"), ("is", "O"), ("big", "O")],
             [("Bob", "B-PER"), ("likes", "O"), ("Paris", "B-LOC")],
             [("we", "O"), ("saw", "O"), ("Alice", "B-PER"), ("Smith", "I-PER")]]


def conll(sentences: list[list[tuple[str, str]]]) -> str:
    return "\n".join("".join(f"{word} {tag}\n" for word, tag in s) for s in sentences)


def test_tag_train_predict_and_eval_from_the_command_line(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    data = tmp_path / "train.conll"
    data.write_text(conll(SENTENCES * 5), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--task", "tag", "--file", str(data), "--max-epochs", "2",
                 "--min-count", "1", "--embedding-size", "8", "--hidden-size", "8",
                 "--char-embedding-size", "4", "--char-filters", "4", "--crf",
                 "--no-progress", "--device", "cpu", "--out-dir", str(run)]) == 0
    reported = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert reported["split_sentences"] == {"train": 16, "valid": 2, "test": 2}

    monkeypatch.setattr("sys.stdin", io.StringIO("Alice saw Paris\nBob\n"))
    assert main(["predict", "--checkpoint", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [[pair.rsplit("/", 1)[0] for pair in line.split()] for line in lines] == [
        ["Alice", "saw", "Paris"], ["Bob"]]

    unseen = tmp_path / "unseen.conll"
    unseen.write_text(conll([SENTENCES[0], [("Acme", "B-ORG"), ("rose", "O")]]),
                      encoding="utf-8")
    assert main(["eval", "--checkpoint", str(run), "--text-file", str(unseen)]) == 1
    assert "line 5 (sentence 2): label 'B-ORG' was not seen in training" in (
        capsys.readouterr().err)
    malformed = tmp_path / "malformed.conll"
    malformed.write_text("Alice B-PER\nsaw\n", encoding="utf-8")
    assert main(["tag", "eval", "--checkpoint", str(run), "--data-file", str(malformed)]) == 1
    assert "line 2: expected 2 fields (token and tag)" in capsys.readouterr().err
