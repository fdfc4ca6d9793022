"""KEDA no-metrics workload: a small HTTP server on PORT whose start-up follows MODE.

healthy     listens at once
slow-start  sleeps DELAY_SECONDS, then listens (not ready meanwhile)
crash-loop  exits with code 1 after DELAY_SECONDS without listening (Kubernetes restarts it, with back-off)

The modes are the Practical Guide's keda-no-metrics-returned workload's; the code is this project's.
"""

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
MODE = os.environ.get("MODE", "healthy").lower()
DELAY_SECONDS = float(os.environ.get("DELAY_SECONDS", "120"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"mode={MODE}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    print(f"[app] listening on :{PORT}", flush=True)
    server.serve_forever()


def main() -> None:
    if MODE == "slow-start":
        print(f"[slow-start] sleeping {DELAY_SECONDS:g}s before starting server", flush=True)
        time.sleep(DELAY_SECONDS)
        print("[slow-start] delay complete, starting server", flush=True)
    elif MODE == "crash-loop":  # never listens: never ready, as the Guide's crash-loop mode
        print(f"[crash-loop] will exit in {DELAY_SECONDS:g}s", flush=True)
        time.sleep(DELAY_SECONDS)
        print("[crash-loop] exiting intentionally", flush=True)
        sys.exit(1)
    elif MODE != "healthy":
        print(f"[app] unknown MODE={MODE}", flush=True)
        sys.exit(2)
    serve()


if __name__ == "__main__":
    main()
