"""What the music tests share: abc2midi, the independent reference for ABC.

A test that needs abc2midi fails when it is missing (it never skips): ``make test`` installs
it (``make music-tools``), so a machine without it is a broken setup, not a reason to stop
checking the tunes against it.
"""

import shutil

import pytest


@pytest.fixture
def abc2midi() -> str:
    """The path of the abc2midi program (Debian/Ubuntu package ``abcmidi``)."""
    path = shutil.which("abc2midi")
    if path is None:
        pytest.fail("abc2midi is not installed: run `make music-tools` (apt-get install abcmidi)")
    return path

