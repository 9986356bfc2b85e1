"""Atomic writing: a file or a folder is replaced whole or not at all.

Every command that writes goes through here, so that an interruption (a crash, Ctrl-C, a
kill) never leaves a half-written file or an empty result folder (spec: Output folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path


def write_files(files: Mapping[Path, str | bytes]) -> None:
    """Write each content beside its destination, then move them all into place
    (`os.replace`): an interruption never leaves a half-written file. Text is UTF-8 with the
    line endings it holds."""
    temps: list[tuple[Path, Path]] = []
    try:
        for name, content in files.items():
            path = Path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            temps.append((Path(tmp_name), path))
            with os.fdopen(handle, "wb") as out:
                out.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def write_file(path: Path, content: str | bytes) -> None:
    """Write one file atomically (see `write_files`)."""
    write_files({Path(path): content})


def write_result_folder(out_dir: Path, files: Mapping[str, Callable[[], str | bytes]]) -> None:
    """Write `files` (name -> text or bytes producer; a name may hold `/` for a subfolder)
    into `out_dir` atomically: the folder is assembled beside its destination and swapped in
    at the end, so a crash leaves the previous folder whole."""
    out_dir = Path(out_dir)
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        for name, produce in files.items():
            content = produce()
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                (tmp / name).write_text(content, encoding="utf-8", newline="")
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
            os.rmdir(old)
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
