"""Metrics load-test workload: endpoints that each move one Azure Monitor metric.

GET /health            200 at once
GET /cpu?ms=N          spins the CPU for N ms (CpuPercentage, UsageNanoCores)
GET /error?code=N      answers status N (Requests by status code)
GET /payload?kb=N      answers N KiB (TxBytes)

After the Practical Guide's metrics-load-test workload (its endpoints and parameters); code of our own,
standard library only.
"""

import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT = int(os.environ.get("PORT", "8000"))


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/cpu":
            end = time.process_time() + int(query.get("ms", "100")) / 1000
            while time.process_time() < end:
                pass
            self._answer(200, b"cpu done\n")
        elif url.path == "/error":
            code = int(query.get("code", "500"))
            self._answer(code, f"intentional {code}\n".encode())
        elif url.path == "/payload":
            self._answer(200, b"x" * (int(query.get("kb", "64")) * 1024))
        elif url.path in ("/", "/health"):
            self._answer(200, b"ok\n")
        else:
            self._answer(404, b"not found\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    print(f"[app] listening on :{PORT}", flush=True)
    Server(("0.0.0.0", PORT), Handler).serve_forever()
