"""Atomic artifact writing with a manifest, and verification on load.

Every artifact llmrec writes (model caches, indexes, adapters, reports) is either a single file written
through a temporary file and ``os.replace``, or a directory assembled under a temporary name and renamed
into place, holding ``manifest.json`` with each file's SHA-256.  A missing, mismatched or corrupt artifact
raises :class:`~llmrec.errors.ArtifactError` — it is never silently used.  Files and directories get the
permissions a plain ``open``/``mkdir`` would give them under the process umask (the temporary names start
private: 0600 / 0700), so an artifact one account writes another may read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmrec.errors import ArtifactError

__all__ = [
    "MANIFEST",
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_figure",
    "atomic_write_text",
    "read_manifest",
    "sha256_file",
    "write_manifest",
]

MANIFEST = "manifest.json"


def cache_dir() -> Path:
    """Where llmrec caches downloads and converted models: ``$LLMREC_CACHE`` or ``~/.cache/llmrec``."""
    return Path(os.environ.get("LLMREC_CACHE") or Path.home() / ".cache" / "llmrec")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _umask() -> int:
    """The process umask, read without changing it where the OS shows it (Linux), else set and restored."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it (mkstemp: 0600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_figure(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Render a matplotlib figure as a PNG at ``path`` atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path`` in one rename.

    On an exception the temporary directory is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        tmp.chmod(0o777 & ~_umask())  # as mkdir() would create it (mkdtemp: 0700)
        yield tmp
        if path.exists():
            if not overwrite:
                raise ArtifactError(f"{path} already exists")
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_manifest(directory: str | os.PathLike, kind: str, **fields: Any) -> dict[str, Any]:
    """Write ``manifest.json`` listing every file under ``directory`` with its SHA-256."""
    directory = Path(directory)
    files = {
        str(p.relative_to(directory)): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {"kind": kind, **fields, "files": files}
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def read_manifest(directory: str | os.PathLike, kind: str, *, verify: bool = True,
                  expect: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read and check a directory artifact's manifest.

    Raises ArtifactError when the manifest is missing or unreadable, is of another ``kind``, a field
    differs from ``expect``, or (with ``verify``) a listed file is missing or its checksum differs.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.exists():
        raise ArtifactError(f"{directory} is not a {kind} artifact: no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path} is unreadable: {err}") from None
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{directory} holds a {manifest.get('kind')!r} artifact, expected {kind!r}")
    for key, want in (expect or {}).items():
        if manifest.get(key) != want:
            raise ArtifactError(f"{directory}: manifest {key}={manifest.get(key)!r} does not match {want!r}")
    if verify:
        for name, digest in manifest.get("files", {}).items():
            file = directory / name
            if not file.exists():
                raise ArtifactError(f"{directory}: {name} is listed in the manifest but missing")
            if sha256_file(file) != digest:
                raise ArtifactError(f"{directory}: {name} is corrupt (checksum differs from the manifest)")
    return manifest
