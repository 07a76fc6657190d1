"""Hard scene cuts from the frames of the analysis pass: PySceneDetect's detectors, fed in place.

PySceneDetect's detectors are plain objects that take one BGR picture at a time; this module
feeds them a 192-px-wide thumbnail of every decoded frame (never a second decode), then checks
each candidate cut:

- *flashes*: when the pictures just before a candidate and a few frames after it match (a flash,
  an explosion, a glitch of at most ``flash_s`` seconds), the candidate is dropped;
- *minimum scene length*: a cut closer than ``min_scene_s`` to the previous kept cut (or to the
  start) is dropped, as PySceneDetect does;
- *fades* are left to the adaptive detector, which compares each frame's change with its
  neighbours' (a fade changes every frame a little, a cut one frame a lot).

Works with PySceneDetect 0.6 (frame numbers) and 0.7 (FrameTimecode).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from ladderforge.errors import UsageError

__all__ = ["DETECTORS", "CutDetector", "SceneDetectorName"]

SceneDetectorName = Literal["adaptive", "content"]
DETECTORS: tuple[str, ...] = ("adaptive", "content")
FLASH_MATCH = 0.35
"""A candidate is a flash when before/after pictures differ by less than this share of the
candidate's own jump."""
_SIG_SIZE = (32, 18)


@dataclass
class _Seen:
    frame: int
    pts_s: float
    signature: npt.NDArray[np.float32]


def _make_detector(name: str) -> Any:
    from scenedetect.detectors import AdaptiveDetector, ContentDetector

    if name == "adaptive":
        return AdaptiveDetector(min_scene_len=1)
    if name == "content":
        return ContentDetector(min_scene_len=1)
    raise UsageError(
        f"The 'scene_detector' parameter must be one of {', '.join(DETECTORS)}. "
        f"Got {name!r} instead."
    )


def _uses_timecodes() -> bool:
    import scenedetect

    major, minor = (int(p) for p in scenedetect.__version__.split(".")[:2])
    return (major, minor) >= (0, 7)


class CutDetector:
    """Finds hard cuts in a stream of thumbnails; :meth:`push` each decoded frame, then
    :meth:`finish`. Not thread-safe."""

    def __init__(
        self,
        *,
        detector: str = "adaptive",
        fps: float,
        min_scene_s: float,
        flash_s: float = 0.25,
    ) -> None:
        self._det = _make_detector(detector)
        self._timecodes = _uses_timecodes()
        self._fps: Any = fps
        if self._timecodes:  # a FrameTimecode as the rate: cheapest constructor path
            from scenedetect.common import FrameTimecode

            self._fps = FrameTimecode(0, fps=fps)
        self._min_scene_s = min_scene_s
        self._flash = max(1, math.ceil(flash_s * fps))
        self._seen: deque[_Seen] = deque(maxlen=2 * self._flash + 24)
        self._n = 0
        self._pending: list[int] = []
        self._cuts: list[tuple[int, float]] = []
        self._start_pts: float | None = None

    def push(self, frame: int, pts_s: float, bgr: npt.NDArray[Any]) -> None:
        """Feed one decoded frame (source index, time, BGR thumbnail), in display order."""
        if self._start_pts is None:
            self._start_pts = pts_s
        sig = cv2.resize(bgr, _SIG_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
        self._seen.append(_Seen(frame, pts_s, sig))
        tc: Any = self._n
        if self._timecodes:
            from scenedetect.common import FrameTimecode

            tc = FrameTimecode(self._n, fps=self._fps)
        found = self._det.process_frame(tc, bgr)
        self._pending.extend(self._index(c) for c in found)
        self._n += 1
        self._settle(final=False)

    def finish(self) -> list[tuple[int, float]]:
        """The kept cuts as (source frame index, time in seconds), in order."""
        if self._n:
            tc: Any = self._n - 1
            if self._timecodes:
                from scenedetect.common import FrameTimecode

                tc = FrameTimecode(self._n - 1, fps=self._fps)
            self._pending.extend(self._index(c) for c in self._det.post_process(tc))
        self._settle(final=True)
        return list(self._cuts)

    @staticmethod
    def _index(cut: Any) -> int:
        return int(getattr(cut, "frame_num", cut))

    def _settle(self, *, final: bool) -> None:
        """Decide the candidates whose look-ahead window has been seen."""
        while self._pending and (final or self._pending[0] + self._flash < self._n):
            self._decide(self._pending.pop(0))

    def _decide(self, cand: int) -> None:
        first = self._n - len(self._seen)  # detector index of self._seen[0]
        if cand <= first or cand >= self._n:
            return  # outside what we kept: cannot place it, never happens with sane windows
        seen = self._seen
        at = seen[cand - first]
        jump = _dist(seen[cand - 1 - first].signature, at.signature)
        for a in range(max(first, cand - 1 - self._flash), cand):
            for b in range(cand + 1, min(self._n, a + self._flash + 2)):
                if _dist(seen[a - first].signature, seen[b - first].signature) < FLASH_MATCH * jump:
                    return  # the picture comes back: a flash, not a cut
        last = self._cuts[-1][1] if self._cuts else self._start_pts or 0.0
        if at.pts_s - last < self._min_scene_s - 1e-6:
            return
        self._cuts.append((at.frame, at.pts_s))


def _dist(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.abs(a - b).mean())
