"""Where trained retrievers live: the artifact kind, and the cache of default retrievers.

``python -m retrieval.train --output DIR`` writes a retriever directory of kind :data:`RETRIEVER_KIND`; the
default one for a dataset (``retriever="auto"``) lives in ``<cache>/retrievers/<data fingerprint>``.  Its
manifest names the data it was trained on and the fit data of each split it serves (``fits``), so a
retriever fitted on a split's fit data finds the one trained on the whole log.  It also names the default
recipe it was trained by (:data:`RECIPE`): a cached retriever of an older recipe is passed over and retrained.
"""

from __future__ import annotations

import logging
from pathlib import Path

from llmrec.artifacts import cache_dir, read_manifest
from llmrec.data import Dataset
from llmrec.errors import ArtifactError

__all__ = ["RECIPE", "RETRIEVER_KIND", "default_path", "find_cached", "is_current"]

log = logging.getLogger(__name__)

RETRIEVER_KIND = "retriever"
RECIPE = 2  # the default training recipe; 2 added self-attentive collaborative members.  Bump on a change.


def is_current(manifest: dict) -> bool:
    """Whether a retriever's manifest names today's default recipe (none recorded: recipe 1)."""
    return manifest.get("recipe", 1) == RECIPE


def default_path(dataset: Dataset) -> Path:
    """Where the default retriever trained on all of ``dataset``'s interactions is cached."""
    return cache_dir() / "retrievers" / dataset.interactions.fingerprint()


def find_cached(data: Dataset) -> Path | None:
    """A cached default retriever trained on ``data`` or on a log of which ``data`` is a split's fit data;
    None when there is none (a corrupt one is passed over with a warning)."""
    fingerprint = data.interactions.fingerprint()
    root = cache_dir() / "retrievers"
    candidates = [root / fingerprint] + sorted(p for p in root.glob("*") if p.name != fingerprint)
    for path in candidates:
        if not path.is_dir():
            continue
        try:
            manifest = read_manifest(path, RETRIEVER_KIND)
        except ArtifactError as err:
            log.warning("cached_retriever_unusable path=%s reason=%s", path, err)
            continue
        if not is_current(manifest):
            log.info("cached_retriever_outdated path=%s recipe=%s", path, manifest.get("recipe", 1))
            continue
        if manifest.get("dataset") == fingerprint or fingerprint in manifest.get("fits", {}).values():
            return path
    return None
