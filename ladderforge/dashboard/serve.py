"""``dashboard --serve``: the report served on 127.0.0.1, rebuilt when the folders change.

``GET /`` answers the report of the two folders as they are now (rebuilt only when a ladder JSON
or the cost file changed); the page asks ``GET /fingerprint`` every few seconds and reloads when
it changed, so a report left open follows a batch that is still running. Only the loopback
address is bound: the report is for the person at this machine.
"""

from __future__ import annotations

import hashlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ladderforge.dashboard.report import build_report, compare_folders
from ladderforge.errors import LadderforgeError

__all__ = ["make_server"]

_RELOAD = """<script>
(function () {
  let seen = null;
  setInterval(async () => {
    try {
      const now = await (await fetch("/fingerprint", { cache: "no-store" })).text();
      if (seen !== null && now !== seen) location.reload();
      seen = now;
    } catch (e) { /* the server stopped: keep the page as it is */ }
  }, POLL_MS);
})();
</script>
</body>"""


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for folder in paths:
        files = sorted(folder.glob("*/*.ladder.json")) if folder.is_dir() else [folder]
        for f in files:
            if f.exists():
                stat = f.stat()
                digest.update(f"{f}:{stat.st_mtime_ns}:{stat.st_size};".encode())
    return digest.hexdigest()[:16]


def make_server(
    folder_a: str | os.PathLike[str],
    folder_b: str | os.PathLike[str],
    *,
    cost_path: str | os.PathLike[str] | None = None,
    name_a: str | None = None,
    name_b: str | None = None,
    port: int = 8765,
    poll_s: float = 5.0,
) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:``port`` (0: any free port); call ``serve_forever()``."""
    watched = [Path(folder_a), Path(folder_b)] + ([Path(cost_path)] if cost_path else [])
    lock = threading.Lock()
    cache: dict[str, str] = {}

    def page() -> tuple[int, str]:
        key = _fingerprint(watched)
        with lock:
            if key not in cache:
                try:
                    cmp = compare_folders(
                        folder_a, folder_b, cost_path=cost_path, name_a=name_a, name_b=name_b
                    )
                    html = build_report(cmp)
                except LadderforgeError as exc:  # e.g. no title finished yet: say so, retry
                    html = f"<html><body><p>{exc.message}</p></body></html>"
                cache.clear()
                cache[key] = html.replace(
                    "</body>", _RELOAD.replace("POLL_MS", str(int(poll_s * 1000))), 1
                )
            return 200, cache[key]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/fingerprint":
                status, body, kind = 200, _fingerprint(watched), "text/plain"
            elif self.path in ("/", "/report.html"):
                status, body = page()
                kind = "text/html; charset=utf-8"
            else:
                status, body, kind = 404, "not found", "text/plain"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the CLI says where the report is served."""

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
