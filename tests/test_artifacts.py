"""Atomic artifact writing (``llmrec.artifacts``): whole or nothing, and readable as plain files would be."""

from __future__ import annotations

import os
import stat

import pytest

from llmrec.artifacts import atomic_directory, atomic_write_text, read_manifest, write_manifest
from llmrec.errors import ArtifactError


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_artifacts_get_the_permissions_the_umask_gives_plain_files_and_directories(tmp_path, umask):
    atomic_write_text(tmp_path / "report.json", "{}")
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "weights.bin").write_bytes(b"w")
        write_manifest(tmp, "test-kind")
    assert mode(tmp_path / "report.json") == 0o666 & ~umask
    assert mode(tmp_path / "model" / "manifest.json") == 0o666 & ~umask
    assert mode(tmp_path / "model") == 0o777 & ~umask
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "f").write_text("x")
    assert (mode(tmp_path / "model"), mode(tmp_path / "report.json")) == (mode(plain), mode(plain / "f"))


def test_a_failed_write_leaves_the_old_artifact_whole(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "old")
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "w").write_text("v1")
        write_manifest(tmp, "test-kind")
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "model") as tmp:
        (tmp / "w").write_text("v2")
        raise RuntimeError("training crashed")
    assert (tmp_path / "model" / "w").read_text() == "v1"
    assert read_manifest(tmp_path / "model", "test-kind")["files"].keys() == {"w"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "model"]  # no temporary left behind


def test_a_changed_file_or_another_kind_is_refused(tmp_path):
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "w").write_text("v1")
        write_manifest(tmp, "test-kind")
    with pytest.raises(ArtifactError, match="kind"):
        read_manifest(tmp_path / "model", "other-kind")
    (tmp_path / "model" / "w").write_text("tampered")
    with pytest.raises(ArtifactError):
        read_manifest(tmp_path / "model", "test-kind")
