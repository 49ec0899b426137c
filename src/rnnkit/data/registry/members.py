"""Archive members: a distribution's files read in memory (never extracted to disk), and
the extractors that turn them into texts, each checked against its pinned sha256."""

from __future__ import annotations

import ast
import bz2
import fnmatch
import gzip
import io
import re
import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import ClassVar, Literal, Protocol

from rnnkit.data.registry.transport import ChecksumError, sha256_hex

# The texts an extractor makes: a data set's own splits, or one whole text to split.
SPLITS = ("train", "valid", "test")
WHOLE = "text"


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
