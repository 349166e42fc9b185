"""A dev wiki's (or farm's) state file: JSON, written whole and atomically, mode 0600 since it
holds generated passwords."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def read_state(path: Path) -> dict[str, Any]:
    """The state in ``path``; {} when there is none yet."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace ``path`` with ``state``; a reader sees the old file or the new one."""
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(state, out, indent=2, ensure_ascii=False)
        out.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def update_state(path: Path, **changes: Any) -> None:
    """Set ``changes`` in the state in ``path``, keeping the rest."""
    state = read_state(path)
    state.update(changes)
    write_state(path, state)
