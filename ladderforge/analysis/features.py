"""Per-frame feature kernels: numpy and OpenCV on 8-bit planes, a few milliseconds a frame.

:class:`FrameFeatures` keeps the little state the temporal features need (the previous grid,
block energies and flow thumbnail) and turns one decoded picture into one row of the per-frame
table. The recipes are documented in :mod:`ladderforge.analysis.schema`; keep both in step and
bump ``ANALYSIS_VERSION`` when a recipe changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["ActiveArea", "FrameFeatures", "Prepared", "active_area", "grid_size"]

# OpenCV's stubs type every image as a loose ndarray: these aliases say what we mean.
U8 = npt.NDArray[Any]
"""An 8-bit image."""
F32 = npt.NDArray[Any]
"""A float32 image or array."""

DARK_LUMA = 40
BAR_DELTA = 10.0
FLAT_VARIANCE = 0.25
EDGE_MAGNITUDE = 128.0
SHARP_MAGNITUDE = 384.0
SHARP_SHARE_FULL = 0.03
STILL_MAD = 0.5
FLOW_WIDTH = 128
NOISE_CROP = 256
NOISE_PERCENTILE = 25
_LAPLACE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _dct_matrix(n: int = 8) -> F32:
    k = np.arange(n)
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d.astype(np.float32)


def _vca_weights(n: int = 8) -> F32:
    i = np.arange(1, n + 1, dtype=np.float64)
    w = np.exp(np.abs((np.outer(i, i) / (n * n)) ** 2 - 1.0))
    w[0, 0] = 0.0  # DC is brightness, not texture
    return w.astype(np.float32)


_DCT = _dct_matrix()
_DCT_T = np.ascontiguousarray(_DCT.T)
_VCA_W = _vca_weights()


def grid_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The analysis grid for a picture: at most ``max_pixels``, aspect kept, at least 8x8."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(width * height / max_pixels)
    return max(8, int(width / scale)), max(8, int(height / scale))


def downscale(luma: U8, size: tuple[int, int]) -> U8:
    """Area-downscale to ``size``: exact 2x INTER_AREA halvings (OpenCV's fast path) while the
    picture stays at least twice the target, then one bilinear step (less than 2x)."""
    w, h = size
    img = luma
    while img.shape[1] >= 2 * w and img.shape[0] >= 2 * h:
        img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if (img.shape[1], img.shape[0]) != (w, h):
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return img


@dataclass(frozen=True)
class ActiveArea:
    """The picture inside letterbox/pillarbox bars, in source pixels."""

    x: int
    y: int
    w: int
    h: int


def _first_above(means: F32, threshold: float) -> int:
    above = np.flatnonzero(means > threshold)
    return int(above[0]) if above.size else -1


def _last_above(means: F32, threshold: float) -> int:
    above = np.flatnonzero(means > threshold)
    return int(above[-1]) if above.size else -1


def _means(img: U8, axis: int) -> F32:
    return cv2.reduce(img, 1 - axis, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()


def _edges(full: U8, grid: U8, threshold: float, axis: int) -> tuple[int, int] | None:
    """First and one-past-last row (axis 0) or column (axis 1) of ``full`` whose mean is above
    ``threshold``: found on the grid, then refined at full resolution around the grid answer."""
    n_full, n_grid = full.shape[axis], grid.shape[axis]
    coarse = _means(grid, axis)
    first, last = _first_above(coarse, threshold), _last_above(coarse, threshold)
    if first < 0:
        return None
    s = n_full / n_grid
    a, b = max(0, math.floor((first - 1) * s)), min(n_full, math.ceil((first + 1) * s) + 1)
    strip = full[a:b] if axis == 0 else full[:, a:b]
    hit = _first_above(_means(strip, axis), threshold)
    lo = a + hit if hit >= 0 else b
    a, b = max(0, math.floor(last * s) - 1), min(n_full, math.ceil((last + 2) * s))
    strip = full[a:b] if axis == 0 else full[:, a:b]
    hit = _last_above(_means(strip, axis), threshold)
    hi = a + hit + 1 if hit >= 0 else a
    return (lo, hi) if hi > lo else None


def active_area(luma: U8, black: float, grid: U8 | None = None) -> ActiveArea | None:
    """Bars are whole rows/columns at the edges whose mean luma is <= ``black + 10``.

    ``grid`` (a downscaled copy of ``luma``) makes it cheap: bars are found there and refined to
    the pixel in full-resolution strips. None when every row is that dark (a black or very dark
    frame says nothing about bars).
    """
    grid = luma if grid is None else grid
    threshold = black + BAR_DELTA
    rows = _edges(luma, grid, threshold, 0)
    if rows is None:
        return None
    top, bottom = rows
    sy = grid.shape[0] / luma.shape[0]
    g0, g1 = math.floor(top * sy), max(math.floor(top * sy) + 1, math.ceil(bottom * sy))
    cols = _edges(luma[top:bottom], grid[g0:g1], threshold, 1)
    if cols is None:
        return None
    left, right = cols
    return ActiveArea(left, top, right - left, bottom - top)


def noise_sigma(luma: U8) -> float:
    """Immerkaer's fast noise estimate on a centre crop, made robust to texture by taking a low
    percentile of 16x16 block means (flat blocks carry the noise, textured ones inflate it)."""
    h, w = luma.shape
    ch, cw = min(h, NOISE_CROP), min(w, NOISE_CROP)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    if ch < 3 or cw < 3:
        return 0.0
    crop = luma[y0 : y0 + ch, x0 : x0 + cw]
    resp = np.abs(cv2.filter2D(crop, cv2.CV_32F, _LAPLACE)[1:-1, 1:-1])
    bh, bw = resp.shape[0] // 16, resp.shape[1] // 16
    if bh and bw:  # block means: an exact INTER_AREA reduction
        level = float(
            np.percentile(
                cv2.resize(resp[: bh * 16, : bw * 16], (bw, bh), interpolation=cv2.INTER_AREA),
                NOISE_PERCENTILE,
            )
        )
    else:
        level = float(resp.mean())
    return level * math.sqrt(math.pi / 2.0) / 6.0


def colorfulness(cb: U8, cr: U8) -> float:
    """Hasler-Suesstrunk colourfulness on chroma (8-bit, 128 = grey)."""
    mb, sb = cv2.meanStdDev(cb)
    mr, sr = cv2.meanStdDev(cr)
    spread = math.hypot(float(sb[0, 0]), float(sr[0, 0]))
    offset = math.hypot(float(mb[0, 0]) - 128.0, float(mr[0, 0]) - 128.0)
    return spread + 0.3 * offset


@dataclass(frozen=True)
class Prepared:
    """What needs the full-resolution picture, taken while the decoder's frame is alive."""

    grid: U8
    """Luma on the analysis grid (an owned array)."""
    area: ActiveArea | None
    """Active picture area (None: a dark frame)."""
    noise: float
    """Noise estimate."""


class FrameFeatures:
    """Computes the grid features of consecutive analysed frames of one title.

    :meth:`prepare` (full-resolution work) may run in another thread than
    :meth:`compute_prepared` (temporal state), but each in order: one instance per decode pass.
    """

    def __init__(self, *, width: int, height: int, max_pixels: int, black: float) -> None:
        self.width, self.height = width, height
        self.grid_w, self.grid_h = grid_size(width, height, max_pixels)
        self.black = black
        self._bw, self._bh = self.grid_w // 8, self.grid_h // 8
        fw = min(FLOW_WIDTH, self.grid_w)
        self._flow_size = (fw, max(8, round(self.grid_h * fw / self.grid_w)))
        self._flow_scale = width / fw
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._prev_grid: F32 | None = None
        self._prev_energy: F32 | None = None
        self._prev_flow: U8 | None = None

    def grid(self, luma: U8) -> U8:
        """Luma on the analysis grid."""
        if (self.grid_w, self.grid_h) == (self.width, self.height):
            return luma
        return downscale(luma, (self.grid_w, self.grid_h))

    def prepare(self, luma: U8) -> Prepared:
        """The full-resolution part: grid, active area, noise (stateless)."""
        g8 = self.grid(luma)
        area = active_area(luma, self.black, g8)
        noise = noise_sigma(luma)
        return Prepared(g8.copy() if g8 is luma else g8, area, noise)

    def compute(self, luma: U8, cb: U8 | None, cr: U8 | None, *, gap: int = 1) -> dict[str, Any]:
        """One row of features for a full-resolution luma plane and chroma thumbnails.

        ``gap`` is the distance in frames to the previous analysed frame (stride, fast mode):
        the flow motion is divided by it, so that it stays in pixels per frame.
        """
        return self.compute_prepared(self.prepare(luma), cb, cr, gap=gap)

    def compute_prepared(
        self, prep: Prepared, cb: U8 | None, cr: U8 | None, *, gap: int = 1
    ) -> dict[str, Any]:
        """:meth:`compute` from the output of :meth:`prepare`."""
        g8, area = prep.grid, prep.area
        g = g8.astype(np.float32)
        row: dict[str, Any] = {}
        mean, std = cv2.meanStdDev(g8)
        row["luma_mean"], row["luma_std"] = float(mean[0, 0]), float(std[0, 0])
        row["dark_share"] = float(np.count_nonzero(g8 <= DARK_LUMA)) / g8.size
        mag = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
        row["si"] = float(cv2.meanStdDev(mag)[1][0, 0])
        row["edge_density"] = float(np.count_nonzero(mag >= EDGE_MAGNITUDE)) / mag.size
        energy, variance = self._block_dct(g)
        row["texture_e"] = float(energy.mean()) if energy.size else 0.0
        row.update(self._temporal(g, energy))
        row.update(self._screen(mag, variance, area))
        row["colorfulness"] = colorfulness(cb, cr) if cb is not None and cr is not None else 0.0
        row["noise_sigma"] = prep.noise
        row["motion_flow"] = self._flow_motion(g8) / max(1, gap)
        if area is None:
            row.update(active_x=None, active_y=None, active_w=None, active_h=None)
        else:
            row.update(active_x=area.x, active_y=area.y, active_w=area.w, active_h=area.h)
        return row

    def _block_dct(self, g: F32) -> tuple[F32, F32]:
        """Per 8x8 block: VCA-weighted |AC| energy / 64, and luma variance (Parseval)."""
        bh, bw = self._bh, self._bw
        if bh == 0 or bw == 0:
            empty = np.zeros((0, 0), np.float32)
            return empty, empty
        a = np.ascontiguousarray(g[: bh * 8, : bw * 8]).reshape(bh, 8, bw * 8)
        c = np.matmul(_DCT, a).reshape(bh, 8, bw, 8)
        c = np.matmul(c, _DCT_T)  # [block row, u, block col, v]
        c = c.transpose(0, 2, 1, 3).reshape(bh, bw, 64)
        energy = (np.abs(c) @ _VCA_W.reshape(64)) / 64.0
        variance = (np.einsum("ijk,ijk->ij", c, c) - c[:, :, 0] ** 2) / 64.0
        return energy.astype(np.float32), variance.astype(np.float32)

    def _temporal(self, g: F32, energy: F32) -> dict[str, float | int | bool | None]:
        prev, prev_e = self._prev_grid, self._prev_energy
        self._prev_grid, self._prev_energy = g, energy
        if prev is None or prev_e is None:
            return {"ti": 0.0, "mad": 0.0, "texture_h": 0.0, "still": False}
        diff = cv2.subtract(g, prev)
        ti = float(cv2.meanStdDev(diff)[1][0, 0])
        mad = float(cv2.norm(diff, cv2.NORM_L1)) / diff.size
        h = float(np.abs(energy - prev_e).mean()) if energy.size else 0.0
        return {"ti": ti, "mad": mad, "texture_h": h, "still": mad < STILL_MAD}

    def _screen(
        self, mag: F32, variance: F32, area: ActiveArea | None
    ) -> dict[str, float | int | None]:
        sy, sx = self.grid_h / self.height, self.grid_w / self.width
        if area is not None:
            y0, y1 = math.ceil(area.y * sy), int((area.y + area.h) * sy)
            x0, x1 = math.ceil(area.x * sx), int((area.x + area.w) * sx)
        else:
            y0, y1, x0, x1 = 0, self.grid_h, 0, self.grid_w
        m = mag[y0:y1, x0:x1]
        v = variance[math.ceil(y0 / 8) : y1 // 8, math.ceil(x0 / 8) : x1 // 8]
        flat = float(np.count_nonzero(v < FLAT_VARIANCE)) / v.size if v.size else 0.0
        sharp = float(np.count_nonzero(m >= SHARP_MAGNITUDE)) / m.size if m.size else 0.0
        score = flat * min(1.0, sharp / SHARP_SHARE_FULL)
        return {"flat_share": flat, "sharp_edge_share": sharp, "screen_score": score}

    def _flow_motion(self, g8: U8) -> float:
        thumb = cv2.resize(g8, self._flow_size, interpolation=cv2.INTER_AREA)
        prev, self._prev_flow = self._prev_flow, thumb
        if prev is None or min(self._flow_size) < 16:
            return 0.0
        flow = self._flow.calc(prev, thumb, None)  # type: ignore[call-overload]
        return float(cv2.magnitude(flow[..., 0], flow[..., 1]).mean()) * self._flow_scale


def motion_from_vectors(mvs: npt.NDArray[np.void]) -> float | None:
    """Mean motion-vector length in source pixels, weighted by block area; None without vectors.

    ``mvs`` is PyAV's structured array of FFmpeg's AVMotionVector (40 bytes each: int32 source,
    uint8 w, h, int16 src_x, src_y, dst_x, dst_y, uint64 flags, int32 motion_x, motion_y,
    uint16 motion_scale), read here as ten little-endian int32 per vector without copies.
    """
    if mvs.size == 0 or mvs.dtype.itemsize != 40:
        return None
    words = np.frombuffer(mvs.data, dtype="<i4").reshape(-1, 10)
    wh = words[:, 1]
    area = ((wh & 0xFF) * ((wh >> 8) & 0xFF)).astype(np.float32)
    scale = np.maximum(words[:, 8] & 0xFFFF, 1).astype(np.float32)
    length = np.hypot(words[:, 6].astype(np.float32), words[:, 7].astype(np.float32)) / scale
    total = float(area.sum())
    return float(np.dot(length, area) / total) if total > 0 else None
