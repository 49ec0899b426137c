"""Downloads and digests: every byte the registry fetches goes through :func:`http_get`
(tests replace it to serve made-up archives)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Mapping

TIMEOUT_S = 60.0


class ChecksumError(ValueError):
    """A file's sha256 is not the one recorded for it."""


class DownloadError(ConnectionError):
    """A download failed: the URL could not be reached or answered with an error."""


def http_get(url: str, headers: Mapping[str, str] | None = None) -> bytes:
    """Return the body of ``url``; the one place rnnkit touches the network.

    Raises :class:`DownloadError` naming the URL when it cannot be fetched. Tests replace this
    function (``monkeypatch.setattr(transport, "http_get", fake)``, with this module imported
    as ``transport``) to serve local bytes.
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
