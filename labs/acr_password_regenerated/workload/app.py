"""The lab's workload: a tiny web app on port 8000 with / and /health (standard library only)."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's naming
        if self.path == "/health":
            body, status = {"status": "healthy"}, 200
        elif self.path == "/":
            body, status = {"message": "ACR password-regenerated lab: pulled with the registry's admin password",
                            "revision": os.environ.get("CONTAINER_APP_REVISION", "unknown")}, 200
        else:
            body, status = {"error": "not found"}, 404
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
