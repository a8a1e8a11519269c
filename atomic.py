"""Files written whole or not at all: every file the kit writes goes to a temporary file beside it,
which then replaces it in one rename.

Killed, interrupted or out of disk space at any moment, a write leaves the previous file (or none),
never part of one; an OSError names the file that could not be written.
"""
from __future__ import annotations

import contextlib
import os
from typing import IO, Any, Iterator


@contextlib.contextmanager
def replacing(path: str, mode: str = "w", sync: bool = False, **kwargs: Any) -> Iterator[IO]:
    """Open path's temporary file (path.tmp) for writing; when the block ends, it replaces path.

    sync: flushed to disk, the rename too, so that it survives a power cut (checkpoints). On any
    failure the temporary file is removed and path is untouched.
    """
    tmp = f"{path}.tmp"
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)  # a part of a file frees its space
        if isinstance(e, OSError) and e.filename in (None, tmp):  # name the file the user knows
            raise type(e)(e.errno, e.strerror, path) from None
        raise
    if sync and os.name == "posix":
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text(path: str, text: str) -> None:
    """A text file (UTF-8), written atomically."""
    with replacing(path, encoding="utf-8") as f:
        f.write(text)


def copy(source: str, path: str) -> None:
    """A copy of source at path, written atomically."""
    with open(source, "rb") as src, replacing(path, "wb") as f:
        f.write(src.read())
