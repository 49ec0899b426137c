"""Checkpoints: exact round trips, tags, crash safety, clear errors, tied weights, no pickle.

Values are checked against what was saved (bit for bit, via the integer view of each float
tensor); crash safety by making a save fail midway and loading the previous save; errors by
damaging files on disk and asserting the type and the words of the message.
"""

import json
import logging
import math
import os
import pickle
import re
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

from rnnkit.training import checkpoint as checkpoint_module
from rnnkit.training.checkpoint import (
    CHECKPOINT_FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    load_checkpoint_config,
    load_model,
    model_state_for_saving,
    restore_model_state,
    save_checkpoint,
)


def make_state(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    special = torch.tensor([math.nan, -0.0, math.inf, -math.inf, 5e-324, float(seed)],
                           dtype=torch.float64)
    return {
        "encoder.weight": torch.randn(7, 5, generator=generator, dtype=torch.float64),
        "encoder.bias": torch.randn(5, generator=generator, dtype=torch.float32),
        "special": special,
        "half": torch.randn(3, 2, generator=generator).to(torch.bfloat16),
        "counts": torch.randint(-(2**62), 2**62, (4,), generator=generator, dtype=torch.int64),
        "scalar": torch.tensor(seed, dtype=torch.int32),
        "empty": torch.zeros(0, 3),
    }


def bits(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's raw bits as integers, so nan payloads and -0.0 compare exactly."""
    integer = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.uint8}
    if tensor.is_floating_point():
        return tensor.contiguous().view(integer[tensor.element_size()])
    return tensor


def assert_bit_equal(loaded: dict, saved: dict) -> None:
    assert sorted(loaded) == sorted(saved)
    for name, tensor in saved.items():
        assert loaded[name].dtype == tensor.dtype, name
        assert loaded[name].shape == tensor.shape, name
        assert torch.equal(bits(loaded[name]), bits(tensor)), name


CONFIG = {"hidden": 32, "dropout": 0.25, "clip": math.inf, "betas": (0.9, 0.999),
          "name": "lstm ✓", "layers": [1, 2.0], "none": None}
VOCAB = {"tokens": ["<unk>", "a", "é"], "index": {0: "<unk>", 1: "a", 2: "é"}}
TRAINER_STATE = {"step": 42, "best_loss": math.inf, "history": [(1, 2.5), (2, math.nan)],
                 "per_epoch": {3: {"lr": 0.1}}, "optimizer": {"__tensor__": "opt.0"}}


def save(directory: Path, seed: int = 0, tag: str = "latest", **overrides) -> Path:
    arguments = {"model_state": make_state(seed), "config": dict(CONFIG, seed=seed),
                 "vocab": VOCAB, "trainer_tensors": {"opt.0": torch.full((2,), float(seed))},
                 "trainer_state": dict(TRAINER_STATE, step=seed), "tag": tag}
    arguments.update(overrides)
    return save_checkpoint(directory, **arguments)


def save_folders(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.is_dir())


def same(a, b) -> bool:
    """Deep equality that also checks types and treats nan as equal to nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    return a == b


# --- round trips -------------------------------------------------------------------------
def test_round_trip_is_exact(tmp_path: Path) -> None:
    folder = save(tmp_path, seed=3)
    loaded = load_checkpoint(tmp_path)
    assert loaded.path == folder and folder.parent == tmp_path
    assert_bit_equal(loaded.model_state, make_state(3))
    assert same(loaded.config, dict(CONFIG, seed=3))
    assert same(loaded.vocab, VOCAB)
    assert same(loaded.trainer_state, dict(TRAINER_STATE, step=3))
    assert_bit_equal(loaded.trainer_tensors, {"opt.0": torch.full((2,), 3.0)})


def test_same_helper_and_bits_can_fail() -> None:
    assert not same({"a": (1, 2)}, {"a": [1, 2]})
    assert not same({0: "a"}, {"0": "a"})
    assert not torch.equal(bits(torch.tensor([0.0])), bits(torch.tensor([-0.0])))
    with pytest.raises(AssertionError):
        assert_bit_equal(make_state(1), make_state(2))


def test_files_are_safetensors_and_strict_json(tmp_path: Path) -> None:
    folder = save(tmp_path)
    assert sorted(path.name for path in folder.iterdir()) == [
        "config.json", "model.safetensors", "trainer.json", "trainer.safetensors", "vocab.json"]
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"),
                        parse_constant=lambda name: pytest.fail(f"{name} in strict JSON"))
    assert config["format_version"] == CHECKPOINT_FORMAT_VERSION
    assert config["clip"] == {"__float__": "inf"}
    pointer = json.loads((tmp_path / "latest.json").read_text())
    assert pointer == {"kind": "rnnkit-checkpoint", "tag": "latest", "folder": folder.name,
                       "format_version": CHECKPOINT_FORMAT_VERSION}
    # the model file is a plain safetensors file any reader can open
    assert_bit_equal(safetensors.torch.load_file(folder / "model.safetensors"), make_state(0))


def test_optional_trainer_parts_default_to_empty(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, model_state={"w": torch.ones(2)}, config={}, vocab=["a", "b"])
    loaded = load_checkpoint(tmp_path)
    assert loaded.trainer_tensors == {} and loaded.trainer_state is None
    assert loaded.config == {} and loaded.vocab == ["a", "b"]


def test_shared_and_non_contiguous_tensors_are_saved_as_copies(tmp_path: Path) -> None:
    base = torch.arange(12.0, dtype=torch.float64).reshape(3, 4)
    state = {"base": base, "same": base, "transposed": base.t(), "row": base[1]}
    save_checkpoint(tmp_path, model_state=state, config={}, vocab={})
    loaded = load_checkpoint(tmp_path).model_state
    assert_bit_equal(loaded, {name: tensor.contiguous() for name, tensor in state.items()})


def test_lone_view_of_larger_storage_saves_its_own_values(tmp_path: Path) -> None:
    base = torch.arange(20.0, dtype=torch.float64).reshape(4, 5)
    save_checkpoint(tmp_path, model_state={"row": base[2], "col": base[:, 1]}, config={},
                    vocab={})
    loaded = load_checkpoint(tmp_path).model_state
    assert_bit_equal(loaded, {"row": base[2].clone(), "col": base[:, 1].contiguous()})


def test_tensor_in_json_part_fails_before_writing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"'lr'.*tensor"):
        save(tmp_path, config={"lr": torch.tensor(0.1)})
    assert list(tmp_path.iterdir()) == []


def test_config_may_not_hold_format_version(tmp_path: Path) -> None:
    message = ("save_checkpoint: config may not hold the key 'format_version'; the checkpoint "
               "writes its own format version there")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        save(tmp_path, config={"format_version": 2})
    assert list(tmp_path.iterdir()) == []


def test_a_config_that_is_not_a_dict_is_named(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"^save_checkpoint expected config as a dict, got list$"):
        save(tmp_path, config=[("hidden", 32)])
    assert list(tmp_path.iterdir()) == []


def test_a_save_makes_the_folders_it_needs_and_says_so(tmp_path: Path, caplog) -> None:
    directory = tmp_path / "runs" / "new" / "run"
    with caplog.at_level(logging.INFO, logger="rnnkit.training.checkpoint"):
        folder = save(directory, tag="best")
    assert folder.parent == directory and load_checkpoint(directory, tag="best").path == folder
    assert f"saved checkpoint {folder} (tag 'best')" in caplog.messages


@pytest.mark.parametrize("tag", ["", ".hidden", "../escape", "a/b", "x" * 65, "sp ace"])
def test_bad_tags_are_rejected(tmp_path: Path, tag: str) -> None:
    with pytest.raises(ValueError, match="checkpoint tag must be"):
        save(tmp_path, tag=tag)
    with pytest.raises(ValueError, match="checkpoint tag must be"):
        load_checkpoint(tmp_path, tag=tag)
    assert list(tmp_path.iterdir()) == []


# --- tags and pruning --------------------------------------------------------------------
def test_latest_and_best_tags(tmp_path: Path) -> None:
    save(tmp_path, seed=1)
    best_folder = save(tmp_path, seed=2)
    save(tmp_path, seed=2, tag="best")  # the same values saved again under "best"
    latest_folder = save(tmp_path, seed=3)
    best = load_checkpoint(tmp_path, tag="best")
    latest = load_checkpoint(tmp_path, tag="latest")
    assert best.config["seed"] == 2 and best.trainer_state["step"] == 2
    assert_bit_equal(best.model_state, make_state(2))
    assert latest.path == latest_folder and latest.config["seed"] == 3
    assert_bit_equal(latest.model_state, make_state(3))
    # only the folders a pointer names are kept
    assert save_folders(tmp_path) == sorted([best.path.name, latest_folder.name])
    assert best.path != best_folder  # "best" got a folder of its own


def test_old_saves_are_pruned_and_numbers_increase(tmp_path: Path) -> None:
    folders = [save(tmp_path, seed=seed).name for seed in range(4)]
    assert folders == [f"save-{number:07d}" for number in range(1, 5)]
    assert save_folders(tmp_path) == ["save-0000004"]


def test_remains_of_killed_save_are_ignored_then_pruned(tmp_path: Path) -> None:
    save(tmp_path, seed=1)
    stray = tmp_path / "save-0000009"
    stray.mkdir()
    (stray / "model.safetensors").write_bytes(b"half written")
    assert load_checkpoint(tmp_path).config["seed"] == 1
    folder = save(tmp_path, seed=2)
    assert folder.name == "save-0000010"
    assert save_folders(tmp_path) == ["save-0000010"]
    assert load_checkpoint(tmp_path).config["seed"] == 2


def test_other_files_in_directory_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"loss": 1.0}')
    (tmp_path / "notes").mkdir()
    save(tmp_path, seed=1)
    save(tmp_path, seed=2)
    assert (tmp_path / "metrics.json").read_text() == '{"loss": 1.0}'
    assert (tmp_path / "notes").is_dir()
    with pytest.raises(CheckpointError, match="not an rnnkit checkpoint pointer"):
        load_checkpoint(tmp_path, tag="metrics")


# --- crash safety ------------------------------------------------------------------------
class CrashError(Exception):
    pass


def crash_on(name: str, real):
    def writer(path, data):
        if Path(path).name == name:
            raise CrashError(f"crash while writing {name}")
        return real(path, data)
    return writer


@pytest.mark.parametrize("patched, name", [
    ("atomic_write_bytes", "model.safetensors"),
    ("atomic_write_bytes", "trainer.safetensors"),
    ("atomic_write_text", "config.json"),
    ("atomic_write_text", "trainer.json"),
    ("atomic_write_text", "latest.json"),  # the pointer switch itself
])
def test_interrupted_save_keeps_previous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patched: str, name: str
) -> None:
    previous = save(tmp_path, seed=1)
    real = getattr(checkpoint_module, patched)
    monkeypatch.setattr(checkpoint_module, patched, crash_on(name, real))
    with pytest.raises(CrashError):
        save(tmp_path, seed=2)
    monkeypatch.undo()
    loaded = load_checkpoint(tmp_path)
    assert loaded.path == previous
    assert_bit_equal(loaded.model_state, make_state(1))
    assert loaded.config["seed"] == 1 and loaded.trainer_state["step"] == 1
    assert save_folders(tmp_path) == [previous.name]  # the failed save's folder is gone
    assert [path.name for path in tmp_path.iterdir() if path.is_file()] == ["latest.json"]


def test_interrupt_in_safetensors_serialisation_keeps_previous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(tmp_path, seed=1)
    calls = []
    real = safetensors.torch.save

    def flaky(tensors, metadata=None):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the trainer tensors are serialised
        return real(tensors, metadata)

    monkeypatch.setattr(safetensors.torch, "save", flaky)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path, seed=2)
    monkeypatch.undo()
    assert len(calls) == 2
    loaded = load_checkpoint(tmp_path)
    assert loaded.config["seed"] == 1
    assert_bit_equal(loaded.model_state, make_state(1))
    assert len(save_folders(tmp_path)) == 1


def test_first_save_interrupted_leaves_no_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = checkpoint_module.atomic_write_text
    monkeypatch.setattr(checkpoint_module, "atomic_write_text", crash_on("vocab.json", real))
    with pytest.raises(CrashError):
        save(tmp_path)
    monkeypatch.undo()
    assert save_folders(tmp_path) == []
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        load_checkpoint(tmp_path)


def test_reader_racing_a_save_loads_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """A save that prunes the folder a reader is about to load makes the reader retry."""
    save(tmp_path, seed=1)
    real = checkpoint_module._load_folder
    seen = []

    def racing(directory, folder, *rest):
        seen.append(folder.name)
        if len(seen) == 1:
            save(tmp_path, seed=2)  # switches the pointer and deletes ``folder``
        return real(directory, folder, *rest)

    monkeypatch.setattr(checkpoint_module, "_load_folder", racing)
    with caplog.at_level(logging.INFO, logger="rnnkit.training.checkpoint"):
        loaded = load_checkpoint(tmp_path)
    assert seen == ["save-0000001", "save-0000002"]
    assert (f"checkpoint 'latest' moved on while loading {tmp_path / 'save-0000001'}; "
            "loading again") in caplog.messages
    assert loaded.config["seed"] == 2
    assert_bit_equal(loaded.model_state, make_state(2))


def test_a_reader_gives_up_on_a_checkpoint_that_keeps_changing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(tmp_path, seed=1)
    real = checkpoint_module._load_folder

    def always_racing(directory, folder, *rest):
        save(tmp_path, seed=2)  # every attempt finds its folder pruned
        return real(directory, folder, *rest)

    monkeypatch.setattr(checkpoint_module, "_load_folder", always_racing)
    message = f"checkpoint 'latest' in {tmp_path} kept changing while loading"
    with pytest.raises(CheckpointError, match=f"^{re.escape(message)}$"):
        load_checkpoint(tmp_path)


# --- clear errors ------------------------------------------------------------------------
def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint directory .*nowhere does not exist"):
        load_checkpoint(tmp_path / "nowhere")


def test_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="is not a directory"):
        load_checkpoint(tmp_path / "file")


def test_directory_without_checkpoint(tmp_path: Path) -> None:
    message = (f"no checkpoint tagged 'latest' in {tmp_path} (latest.json is missing; the "
               "directory holds no checkpoint)")
    with pytest.raises(CheckpointError, match=f"^{re.escape(message)}$"):
        load_checkpoint(tmp_path)


def test_unknown_tag_lists_present_tags(tmp_path: Path) -> None:
    save(tmp_path)
    save(tmp_path, tag="best")
    with pytest.raises(CheckpointError,
                       match=r"no checkpoint tagged 'final'.*tags present: best, latest"):
        load_checkpoint(tmp_path, tag="final")


def test_pointer_naming_missing_folder(tmp_path: Path) -> None:
    folder = save(tmp_path)
    pointer = json.loads((tmp_path / "latest.json").read_text())
    (tmp_path / "latest.json").write_text(json.dumps(dict(pointer, folder="save-0000077")))
    with pytest.raises(CheckpointError, match=r"checkpoint folder .*save-0000077 is missing"):
        load_checkpoint(tmp_path)
    assert folder.is_dir()


@pytest.mark.parametrize("folder", ["../outside", "/etc", "save-1", 7, None])
def test_pointer_must_name_a_save_folder(tmp_path: Path, folder) -> None:
    save(tmp_path)
    pointer = json.loads((tmp_path / "latest.json").read_text())
    (tmp_path / "latest.json").write_text(json.dumps(dict(pointer, folder=folder)))
    with pytest.raises(CheckpointError, match="is not an rnnkit checkpoint pointer"):
        load_checkpoint(tmp_path)


def test_pointer_with_wrong_kind(tmp_path: Path) -> None:
    save(tmp_path)
    pointer = json.loads((tmp_path / "latest.json").read_text())
    (tmp_path / "latest.json").write_text(json.dumps(dict(pointer, kind="something-else")))
    with pytest.raises(CheckpointError, match="is not an rnnkit checkpoint pointer"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("text, words", [
    ('{"kind": "rnnkit-checkpoint", ', r"latest\.json is not valid JSON: .* line 1 column"),
    ("", r"latest\.json is not valid JSON"),
    ("\xff\xfe garbage", r"latest\.json is not valid JSON"),
])
def test_garbled_pointer(tmp_path: Path, text: str, words: str) -> None:
    save(tmp_path)
    (tmp_path / "latest.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("name", ["config.json", "vocab.json", "trainer.json"])
def test_garbled_json_file(tmp_path: Path, name: str) -> None:
    folder = save(tmp_path)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(CheckpointError, match=rf"{name} is not valid JSON: .* line \d+ column"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_strict_json_is_rejected(tmp_path: Path, constant: str) -> None:
    folder = save(tmp_path)
    (folder / "trainer.json").write_text(f'{{"best_loss": {constant}}}')
    with pytest.raises(CheckpointError, match=rf"trainer\.json is not strict JSON: {constant}"):
        load_checkpoint(tmp_path)


def test_config_must_be_an_object(tmp_path: Path) -> None:
    folder = save(tmp_path)
    (folder / "config.json").write_text("[1, 2]")
    message = f"{folder / 'config.json'} should hold a JSON object, got list"
    with pytest.raises(CheckpointError, match=f"^{re.escape(message)}$"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("name", ["model.safetensors", "trainer.safetensors", "config.json",
                                  "vocab.json", "trainer.json"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    folder = save(tmp_path)
    (folder / name).unlink()
    with pytest.raises(CheckpointError, match=rf"checkpoint file .*{name} is missing"):
        load_checkpoint(tmp_path)


def _truncate(data: bytes) -> bytes:
    return data[: len(data) - 9]


def _garble_header(data: bytes) -> bytes:
    return data[:8] + b"#" + data[9:]


def _huge_header_length(data: bytes) -> bytes:
    return struct.pack("<Q", 2**60) + data[8:]


def _lying_header(data: bytes) -> bytes:
    header = json.dumps({"w": {"dtype": "F64", "shape": [100], "data_offsets": [0, 800]}})
    return struct.pack("<Q", len(header)) + header.encode() + data[-16:]


def _unknown_dtype(data: bytes) -> bytes:
    """A well-formed header whose dtype safetensors knows and torch's reader does not."""
    header = json.dumps({"w": {"dtype": "F8_E8M0", "shape": [16], "data_offsets": [0, 16]}})
    return struct.pack("<Q", len(header)) + header.encode() + data[-16:]


@pytest.mark.parametrize("damage", [_truncate, _garble_header, _huge_header_length,
                                    _lying_header, _unknown_dtype, lambda data: b"",
                                    lambda data: data[:5]])
@pytest.mark.parametrize("name", ["model.safetensors", "trainer.safetensors"])
def test_corrupt_safetensors(tmp_path: Path, damage, name: str) -> None:
    folder = save(tmp_path)
    path = folder / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError,
                       match=rf"{name} is not a readable safetensors file \(corrupt or trunc"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("where", ["pointer", "config"])
def test_newer_format_version_is_refused(tmp_path: Path, where: str) -> None:
    folder = save(tmp_path)
    path = tmp_path / "latest.json" if where == "pointer" else folder / "config.json"
    document = json.loads(path.read_text())
    document["format_version"] = CHECKPOINT_FORMAT_VERSION + 1
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=f"^{re.escape(str(path))} has format_version 2, "
                                              r"newer .*upgrade rnnkit$"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("version", [None, "1", 1.0, True])
def test_config_format_version_must_be_an_integer(tmp_path: Path, version) -> None:
    folder = save(tmp_path)
    path = folder / "config.json"
    document = json.loads(path.read_text())
    if version is None:
        del document["format_version"]
    else:
        document["format_version"] = version
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=r"config\.json has no integer format_version"):
        load_checkpoint(tmp_path)


# --- nothing is unpickled ----------------------------------------------------------------
class _PlantedPayload:
    """Unpickling this creates the file ``marker``: proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_nothing_is_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "run"
    folder = save(directory, seed=5)
    marker = tmp_path / "UNPICKLED"
    payload = pickle.dumps(_PlantedPayload(marker))
    for name in ["model.pt", "model.pkl", "trainer.pt", "optimizer.pth", "checkpoint.bin"]:
        (folder / name).write_bytes(payload)
    torch.save({"w": torch.zeros(1)}, folder / "weights.pt")
    pickle.loads(pickle.dumps(1))  # pickle works before the patch

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint load must never unpickle")

    for module, name in [(torch, "load"), (pickle, "load"), (pickle, "loads"),
                         (pickle, "Unpickler")]:
        monkeypatch.setattr(module, name, forbidden)
    loaded = load_checkpoint(directory)
    assert_bit_equal(loaded.model_state, make_state(5))
    assert loaded.config["seed"] == 5
    assert not marker.exists()
    monkeypatch.undo()
    pickle.loads(payload).close()  # control: the planted payload does create the marker
    assert marker.exists()


def test_pickle_in_place_of_safetensors_is_refused(tmp_path: Path) -> None:
    folder = save(tmp_path)
    marker = tmp_path / "UNPICKLED"
    (folder / "model.safetensors").write_bytes(pickle.dumps(_PlantedPayload(marker)))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path)
    assert not marker.exists()
    torch.save({"w": torch.ones(1)}, folder / "model.safetensors")  # a torch.save zip file
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path)


# --- tied weights ------------------------------------------------------------------------
class TiedModel(nn.Module):
    def __init__(self, tie: bool = True) -> None:
        super().__init__()
        self.embedding = nn.Embedding(11, 6, dtype=torch.float64)
        self.rnn = nn.GRU(6, 6, dtype=torch.float64)
        self.decoder = nn.Linear(6, 11, dtype=torch.float64)
        if tie:
            self.decoder.weight = self.embedding.weight


def test_tied_weights_save_once_and_retie(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TiedModel()
    tensors, aliases = model_state_for_saving(model)
    assert aliases == {"decoder.weight": "embedding.weight"}
    assert "decoder.weight" not in tensors and "embedding.weight" in tensors
    save_checkpoint(tmp_path, model_state=tensors, config={"aliases": aliases}, vocab={})
    on_disk = safetensors.torch.load_file(load_checkpoint(tmp_path).path / "model.safetensors")
    assert "decoder.weight" not in on_disk

    loaded = load_checkpoint(tmp_path)
    torch.manual_seed(1)
    fresh = TiedModel()
    assert not torch.equal(fresh.embedding.weight, model.embedding.weight)
    restore_model_state(fresh, loaded.model_state, loaded.config["aliases"])
    assert fresh.decoder.weight is fresh.embedding.weight  # still tied, one Parameter
    assert_bit_equal(fresh.state_dict(), {k: v.detach() for k, v in model.state_dict().items()})
    with torch.no_grad():
        fresh.embedding.weight[0, 0] = 123.0
    assert fresh.decoder.weight[0, 0] == 123.0


def test_untied_model_saves_everything(tmp_path: Path) -> None:
    model = TiedModel(tie=False)
    tensors, aliases = model_state_for_saving(model)
    assert aliases == {}
    assert sorted(tensors) == sorted(model.state_dict())
    save_checkpoint(tmp_path, model_state=tensors, config={}, vocab={})
    fresh = TiedModel(tie=False)
    restore_model_state(fresh, load_checkpoint(tmp_path).model_state, {})
    assert_bit_equal(fresh.state_dict(), model.state_dict())


def test_tied_checkpoint_into_untied_model_is_refused() -> None:
    tensors, aliases = model_state_for_saving(TiedModel())
    with pytest.raises(ValueError, match=r"ties 'decoder\.weight' to 'embedding\.weight' but "
                                         r"the module holds them as separate tensors"):
        restore_model_state(TiedModel(tie=False), tensors, aliases)


def test_untied_checkpoint_with_different_values_into_tied_model_is_refused() -> None:
    tensors, aliases = model_state_for_saving(TiedModel(tie=False))
    assert not torch.equal(tensors["decoder.weight"], tensors["embedding.weight"])
    with pytest.raises(ValueError, match="holds different values"):
        restore_model_state(TiedModel(), tensors, aliases)


def test_untied_checkpoint_with_equal_values_into_tied_model_loads() -> None:
    source = TiedModel()
    tensors = {k: v.clone() for k, v in source.state_dict().items()}  # both names, no aliases
    fresh = TiedModel()
    restore_model_state(fresh, tensors, {})
    assert fresh.decoder.weight is fresh.embedding.weight
    assert torch.equal(fresh.embedding.weight, source.embedding.weight)


@pytest.mark.parametrize("aliases", [{"decoder.weight": "nothing"},
                                     {"embedding.weight": "embedding.weight"}])
def test_aliases_that_do_not_fit_are_refused(aliases: dict) -> None:
    tensors, _ = model_state_for_saving(TiedModel())
    with pytest.raises(ValueError, match="does not fit the saved tensors"):
        restore_model_state(TiedModel(), tensors, aliases)


def test_load_to_map_location_cpu(tmp_path: Path) -> None:
    save(tmp_path, seed=4)
    loaded = load_checkpoint(tmp_path, map_location=torch.device("cpu"))
    assert all(tensor.device.type == "cpu" for tensor in loaded.model_state.values())
    assert_bit_equal(loaded.model_state, make_state(4))


def test_directory_given_as_str(tmp_path: Path) -> None:
    save(Path(os.fspath(tmp_path)), seed=6)
    assert load_checkpoint(os.fspath(tmp_path)).config["seed"] == 6


def test_the_config_alone_reads_as_load_checkpoint_reads_it(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, model_state={"w": torch.ones(2)},
                    config={"classify": {"max_epochs": 3}, "model": {"inf": float("inf")}},
                    vocab={}, tag="latest")
    assert load_checkpoint_config(tmp_path) == load_checkpoint(tmp_path).config
    with pytest.raises(CheckpointError, match="no checkpoint tagged 'best'"):
        load_checkpoint_config(tmp_path, tag="best")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint_config(tmp_path / "nowhere")


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_restoring_is_strict_about_names(change: str) -> None:
    tensors, _ = model_state_for_saving(TiedModel())
    if change == "missing":
        del tensors["rnn.bias_hh_l0"]
    else:
        tensors["rnn.weight_hr_l0"] = torch.zeros(6, 6, dtype=torch.float64)
    word = {"missing": r"Missing key\(s\).*rnn\.bias_hh_l0",
            "extra": r"Unexpected key\(s\).*rnn\.weight_hr_l0"}[change]
    with pytest.raises(RuntimeError, match=word):
        restore_model_state(TiedModel(), tensors)


class OneNumberTied(nn.Module):
    """Two names for one one-element parameter, and two distinct empty parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))
        self.same_gain = self.gain
        self.nothing = nn.Parameter(torch.zeros(0, 3))
        self.nothing_else = nn.Parameter(torch.zeros(0, 3))


def test_a_one_element_tie_is_kept_and_empty_tensors_are_never_ties() -> None:
    """Empty tensors may report the same address; only their names tell them apart."""
    tensors, aliases = model_state_for_saving(OneNumberTied())
    assert aliases == {"same_gain": "gain"}
    assert sorted(tensors) == ["gain", "nothing", "nothing_else"]


def test_load_model_reads_the_tag_it_is_given(tmp_path: Path) -> None:
    def build(config: dict) -> nn.Module:
        return nn.Linear(2, config["width"])

    for tag, width in (("best", 3), ("latest", 5)):
        state, _ = model_state_for_saving(nn.Linear(2, width))
        save_checkpoint(tmp_path, model_state=state, config={"width": width}, vocab={},
                        tag=tag)
    model, saved = load_model(tmp_path, build, tag="best")
    assert model.out_features == 3 and saved.config == {"width": 3}
    assert not model.training  # in eval mode, ready to use


def test_json_files_are_readable_utf8_one_key_a_line(tmp_path: Path) -> None:
    """People read config.json and vocab.json: indented, a key per line, non-ASCII as
    itself (not \\u escapes), a final newline."""
    folder = save(tmp_path)
    config_text = (folder / "config.json").read_text(encoding="utf-8")
    assert config_text.startswith('{\n "format_version": 1,\n "hidden": 32,\n')
    assert config_text.endswith("}\n")
    assert '"name": "lstm ✓"' in config_text
    assert '"é"' in (folder / "vocab.json").read_text(encoding="utf-8")


def test_safetensors_files_say_they_hold_pytorch_tensors(tmp_path: Path) -> None:
    """Readers such as transformers' loaders check the header's ``format`` metadata."""
    folder = save(tmp_path)
    for name in ("model.safetensors", "trainer.safetensors"):
        with safetensors.safe_open(folder / name, framework="pt") as opened:
            assert opened.metadata() == {"format": "pt"}


def test_a_save_is_made_durable_before_its_pointer_names_it(tmp_path: Path,
                                                           monkeypatch) -> None:
    """The save folder and the run directory are fsynced (a spy on ``os.fsync`` records
    which files and directories were flushed, in order)."""
    flushed: list[str] = []
    real_fsync = os.fsync

    def spy(descriptor: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", spy)
    folder = save(tmp_path)
    names = [re.sub(r"\.[0-9a-f]+\.tmp$", ".tmp", str(Path(path).relative_to(tmp_path)))
             for path in flushed]
    saved = folder.name
    assert names == [f"{saved}/.model.safetensors.tmp", f"{saved}/.trainer.safetensors.tmp",
                     f"{saved}/.config.json.tmp", f"{saved}/.vocab.json.tmp",
                     f"{saved}/.trainer.json.tmp",
                     saved, ".",  # the complete folder, and its entry in the run directory
                     ".latest.json.tmp", "."]  # then the pointer, and its rename


def test_a_model_state_entry_that_is_not_a_tensor_is_named(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"^expected a tensor for 'scale', got float$"):
        save(tmp_path, model_state={"scale": 0.5})
    assert list(tmp_path.iterdir()) == []


def test_other_json_files_sorted_before_the_pointers_hide_no_save(tmp_path: Path) -> None:
    """A run folder also holds the user's own JSON; one that is not a pointer (here even
    invalid) must not stop the pointers after it from being read, or their saves pruned."""
    (tmp_path / "a-notes.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "b-summary.json").write_text('{"accuracy": 0.9}', encoding="utf-8")
    save(tmp_path, seed=1, tag="best")
    save(tmp_path, seed=2, tag="latest")
    assert load_checkpoint(tmp_path, tag="best").trainer_state["step"] == 1
    assert load_checkpoint(tmp_path).trainer_state["step"] == 2


def test_a_save_that_cannot_prune_warns_and_still_saves(tmp_path: Path, caplog) -> None:
    (tmp_path / "save-0000099").write_text("a file where a save folder would be")
    with caplog.at_level(logging.WARNING, logger="rnnkit.training.checkpoint"):
        save(tmp_path, seed=3)
    assert load_checkpoint(tmp_path).trainer_state["step"] == 3
    assert any(message.startswith(f"could not remove old checkpoint folders in {tmp_path}: ")
               and "save-0000099" in message for message in caplog.messages)
