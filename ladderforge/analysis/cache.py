"""The analysis cache: one parquet file per (content hash, analysis version, parameters).

The file name carries the content hash and a digest of the key; the key itself is stored in the
file and checked on load, so a renamed or foreign file is never trusted. Writes go to a
temporary name and are renamed; a damaged file is ignored (and rewritten by the next analysis).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path

from ladderforge.analysis.profile import AnalysisParams, ContentProfile, read_profiles
from ladderforge.analysis.schema import ANALYSIS_VERSION
from ladderforge.errors import LadderforgeError
from ladderforge.types import SourceInfo

__all__ = ["cache_key", "cache_path", "default_cache_dir", "load_cached", "store_cached"]

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``ladderforge.media.capabilities.cache_dir() / "analysis"``."""
    from ladderforge.media.capabilities import cache_dir

    return cache_dir() / "analysis"


def cache_key(content_hash: str, params: AnalysisParams) -> str:
    """The key: content hash + analysis version + every parameter, as canonical JSON."""
    return json.dumps(
        {"content": content_hash, "version": ANALYSIS_VERSION, "params": params.to_dict()},
        sort_keys=True,
        separators=(",", ":"),
    )


def cache_path(folder: Path, content_hash: str, params: AnalysisParams) -> Path:
    digest = hashlib.sha256(cache_key(content_hash, params).encode()).hexdigest()[:16]
    return folder / f"{content_hash[:16]}-{digest}.parquet"


def load_cached(folder: Path, source: SourceInfo, params: AnalysisParams) -> ContentProfile | None:
    """The cached profile of this content and these parameters, or None."""
    path = cache_path(folder, source.content_hash, params)
    if not path.is_file():
        return None
    try:
        (profile,) = read_profiles(path)
    except (LadderforgeError, ValueError, TypeError, KeyError) as exc:
        logger.warning("ignoring a damaged analysis cache file %s (%s)", path, exc)
        return None
    if (
        profile.version != ANALYSIS_VERSION
        or profile.source.content_hash != source.content_hash
        or profile.params != params
    ):
        logger.warning("ignoring analysis cache file %s: it holds another key", path)
        return None
    return replace(profile, source=source, from_cache=True)


def store_cached(folder: Path, profile: ContentProfile) -> None:
    """Write a profile to the cache; an unwritable cache only costs a re-analysis later."""
    path = cache_path(folder, profile.source.content_hash, profile.params)
    try:
        profile.to_parquet(path)
    except LadderforgeError as exc:
        logger.warning("could not write the analysis cache (%s)", exc.message)
