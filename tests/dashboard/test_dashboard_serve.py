"""``dashboard --serve``: the report over HTTP on 127.0.0.1, rebuilt when a title lands."""

from __future__ import annotations

import shutil
import threading
import urllib.request
from pathlib import Path

from ladderforge.dashboard.serve import make_server


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as resp:
        return resp.read().decode()


def test_served_report_follows_the_folders(synthetic_small: tuple[Path, Path]) -> None:
    a, b = synthetic_small
    late = a.parent / "late"
    shutil.move(str(b / "title0011"), late)  # title0011 not finished in B yet
    server = make_server(a, b, port=0, poll_s=0.5)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.server_address[0] == "127.0.0.1"
        first, before = _get(port, "/"), _get(port, "/fingerprint")
        assert "title0011: only in A, left out" in first and "/fingerprint" in first
        shutil.move(str(late), b / "title0011")  # the batch finishes the title
        after = _get(port, "/fingerprint")
        assert after != before
        assert "only in A" not in _get(port, "/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
