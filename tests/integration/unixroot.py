"""A throwaway root for the Unix backend (`useradd --prefix`): etc/ with the account
files holding only root, and an empty home/, so the machine's own /etc is never
touched. A missing useradd is an error that says how to install it, never a skip."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def unix_root(folder: Path) -> Path:
    """`folder/root`, ready for `UnixBackend`."""
    if shutil.which("useradd") is None and not Path("/usr/sbin/useradd").exists():
        pytest.fail("useradd is missing: install Debian's passwd package", pytrace=False)
    root = folder / "root"
    (root / "etc").mkdir(parents=True)
    (root / "home").mkdir()
    for name in ("passwd", "group", "shadow", "gshadow"):
        (root / "etc" / name).touch()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root
