"""Memory-percentage workload: holds TARGET_MB of resident memory, then serves HTTP on PORT.

MODE=rss touches every page of a TARGET_MB buffer (anonymous memory: what MemoryPercentage and the memory
scale rule both count) before it listens, so the replica is ready only once it holds the memory. The
Practical Guide's workload also has a page-cache mode; the emulator measures resident memory only, so this
lab does not use it. Modes after the Guide's memory-percentage-vs-keda-utilization workload; code of our own.
"""

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
MODE = os.environ.get("MODE", "rss").lower()
TARGET_MB = int(os.environ.get("TARGET_MB", "400"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"mode={MODE} target_mb={TARGET_MB}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    if MODE != "rss":
        print(f"[app] unsupported MODE={MODE} (only rss)", flush=True)
        sys.exit(2)
    held = bytearray(TARGET_MB * 1024 * 1024)
    for offset in range(0, len(held), 4096):
        held[offset] = 1  # every page resident
    print(f"[rss] holding {TARGET_MB} MiB", flush=True)
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.held = held  # type: ignore[attr-defined]
    print(f"[app] listening on :{PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
