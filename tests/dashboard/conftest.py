"""Synthetic results sets for the dashboard: two output folders of ladder JSONs (A: Apple's
fixed HEVC rows, B: a per-title ladder), from a toy RD model. Rendering tests only: no figure
measured on them is a result about ladders."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from pathlib import Path

import pytest

from ladderforge.policy import apple_hevc_ladder
from ladderforge.types import EncodeSettings, Ladder, LadderCost, Rung, RungCosts, SourceInfo

_VMAX = {360: 82.0, 432: 86.0, 540: 89.0, 720: 94.0, 1080: 98.5}


def _vmaf(height: int, kbps: float, c: float) -> float:
    scale = 900.0 * (0.4 + 2.0 * c) * (height / 1080) ** 1.2
    return _VMAX[min(_VMAX, key=lambda h: abs(h - height))] * (1 - math.exp(-kbps / scale))


def _kbps_for(height: int, vmaf: float, c: float) -> float | None:
    vmax = _VMAX[min(_VMAX, key=lambda h: abs(h - height))]
    if vmaf >= vmax:
        return None
    return -900.0 * (0.4 + 2.0 * c) * (height / 1080) ** 1.2 * math.log(1 - vmaf / vmax)


def _rung(w: int, h: int, kbps: float, c: float, frames: int, measured: bool) -> Rung:
    vmaf = _vmaf(h, kbps, c)
    cpu = frames * w * h / 1e6 / 6.4
    return Rung(
        settings=EncodeSettings(codec="x265", width=w, height=h, q=28.0, preset="veryfast"),
        bitrate_kbps=kbps,
        vmaf=vmaf,
        measured_bitrate_kbps=kbps if measured else None,
        measured_vmaf=vmaf if measured else None,
        measured_vmaf_neg=vmaf - 1.5 if measured else None,
        cost=RungCosts(encode_cpu_s=cpu, encode_cpu_s_measured=cpu if measured else None),
    )


def write_synthetic(root: Path, n_titles: int, *, seed: int = 7) -> tuple[Path, Path]:
    """Write ``root/apple`` and ``root/pertitle`` with ``n_titles`` titles each."""
    rng = random.Random(seed)
    folders = (root / "apple", root / "pertitle")
    for i in range(n_titles):
        c, duration = rng.random(), rng.uniform(60, 3600)
        frames, views = int(duration * 24), math.exp(rng.gauss(math.log(1000), 2.0))
        title = f"title{i:04d}"
        source = SourceInfo(
            Path(f"/synthetic/{title}.mp4"), 1920, 1080, Fraction(24), frames, duration,
            "yuv420p", 8, "h264", "mp4", 1, f"{i:064x}",
        )  # fmt: skip
        apple = [
            _rung(r.width, r.height, r.bitrate_kbps, c, frames, True)
            for r in apple_hevc_ladder(1920, 1080)
        ]
        per_title = []
        sizes = ((640, 360), (768, 432), (960, 540), (1280, 720), (1920, 1080))
        for target, (w, h) in zip((45, 65, 78, 87, 93), sizes, strict=True):
            kbps = _kbps_for(h, target, c)
            if kbps is not None:
                per_title.append(_rung(w, h, kbps, c, frames, True))
        for folder, rungs, mode in zip(
            folders, (apple, per_title), ("fixed", "predict"), strict=True
        ):
            cost = LadderCost(views, 0.0, 0.0, 0.0, 0.0, 0.0, (), None)
            ladder = Ladder(title, source, tuple(rungs), mode=mode, cost=cost)
            (folder / title).mkdir(parents=True, exist_ok=True)
            (folder / title / f"{title}.ladder.json").write_text(json.dumps(ladder.to_dict()))
    return folders


@pytest.fixture
def synthetic_small(tmp_path: Path) -> tuple[Path, Path]:
    """12 titles: Apple's ladder (A) and a per-title one (B)."""
    return write_synthetic(tmp_path, 12)


@pytest.fixture(scope="session")
def synthetic_1000(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """1,000 titles: Apple's ladder (A) and a per-title one (B)."""
    return write_synthetic(tmp_path_factory.mktemp("synthetic1000"), 1000)


# --- headless Chromium through the DevTools protocol (websocket-client) ----------------------

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1400,2400",
    "--js-flags=--no-compilation-cache",  # every load compiles plotly.js anew, as a first visit
)  # fmt: skip


class Page:
    """One Chromium tab: evaluate JS, type, collect console errors, take screenshots."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.errors: list[str] = []
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def _event(self, msg: dict) -> None:  # type: ignore[type-arg]
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text")))

    def call(self, method: str, **params: object) -> dict:  # type: ignore[type-arg]
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})  # type: ignore[no-any-return]
            self._event(msg)

    def eval(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 60.0) -> object:
        import time

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"{expression} still false after {timeout_s} s")


@pytest.fixture
def chromium(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Open a page in headless Chromium: ``chromium(url) -> Page`` (skips without Chromium)."""
    import shutil
    import subprocess
    import time
    import urllib.request

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("no chromium on PATH (apt-get install chromium; .ci/run installs it)")
    pytest.importorskip("websocket", reason="websocket-client (dev extra) drives Chromium")
    profile, log = tmp_path / "chromium-profile", tmp_path / "chromium.log"
    with log.open("wb") as stderr:  # a file, not a pipe: a full pipe would block Chromium
        proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    pages: list[Page] = []

    def open_page(url: str) -> Page:
        port_file, end = profile / "DevToolsActivePort", time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"chromium did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.loads(resp.read())
        target = next(t for t in targets if t.get("type") == "page")
        page = Page(target["webSocketDebuggerUrl"])
        pages.append(page)
        page.call("Page.navigate", url=url)
        return page

    yield open_page
    for page in pages:
        page.ws.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
