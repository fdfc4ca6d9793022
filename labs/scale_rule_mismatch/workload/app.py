"""Scale-rule-mismatch workload: GET /health answers at once, GET /load holds the request like a busy handler.

The Practical Guide's workload (Flask + gunicorn) spins the CPU for about a second in /load so that one
replica saturates. This one (standard library only, so the lab builds offline) spins LOAD_CPU_MS of CPU and
then holds the answer LOAD_HOLD_MS: every request stays in flight for a while, which is what an HTTP scale
rule counts, while the lab runs in seconds on the emulator's fast clock.
"""

import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
CPU_SECONDS = float(os.environ.get("LOAD_CPU_MS", "20")) / 1000
HOLD_SECONDS = float(os.environ.get("LOAD_HOLD_MS", "200")) / 1000


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/load":
            end = time.process_time() + CPU_SECONDS
            while time.process_time() < end:
                pass
            time.sleep(HOLD_SECONDS)
            body = b"load done\n"
        elif path in ("/", "/health"):
            body = b"ok\n"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # 60 clients would flood the console logs


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


if __name__ == "__main__":
    print(f"listening on :{PORT}", flush=True)
    Server(("0.0.0.0", PORT), Handler).serve_forever()
