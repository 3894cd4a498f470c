"""Reading the plan file and writing it back atomically without clobbering a person.

Bytes go in and out unchanged: the text is decoded as UTF-8 with surrogate escapes,
so even bytes that are not UTF-8 survive a write-back exactly.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from agent_sync.markdown import Problem

MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest plan file the sidecar reads (16 MiB: about 150,000 tasks of a typical
length). A larger file is refused as a whole: nothing is applied or pruned."""


class FileChanged(Exception):
    """The file changed between reading it and writing it back: re-read and re-apply."""


class FileTooLarge(Exception):
    """The plan file is above MAX_FILE_BYTES: the sync is refused, nothing is pruned."""

    def __init__(self, name: str, size: int) -> None:
        super().__init__(
            f"the plan file {name} is {size:,} bytes, more than the maximum of "
            f"{MAX_FILE_BYTES:,} (16 MiB): it is not read, and no task is applied or pruned; "
            "split the plan into several files (one sidecar each)"
        )
        self.size = size


def check_size(name: str, size: int) -> None:
    """Raises FileTooLarge when `size` is above MAX_FILE_BYTES."""
    if size > MAX_FILE_BYTES:
        raise FileTooLarge(name, size)


def decode(data: bytes) -> tuple[str, list[Problem]]:
    """The text of the file, and a warning when some bytes are not UTF-8."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        text = data.decode("utf-8", "surrogateescape")
        return text, [
            Problem(
                line, "warning", "not-utf8",
                f"line {line}: the file is not valid UTF-8 here (byte {error.start}); it is "
                "kept byte for byte, but save the file as UTF-8 so titles read correctly",
            )
        ]


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def replace_if_unchanged(path: Path, expected: bytes, new: bytes) -> None:
    """Writes `new` by rename from a temporary file in the same folder.

    Raises FileChanged, writing nothing, if the file no longer holds `expected`, so
    a person's edit made since the read is never overwritten.
    """
    if path.read_bytes() != expected:
        raise FileChanged(str(path))
    mode = path.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".agent-sync", dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(new)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        if path.read_bytes() != expected:
            raise FileChanged(str(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
