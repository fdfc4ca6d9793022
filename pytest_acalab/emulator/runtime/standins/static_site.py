"""Stand-in for Microsoft's sample images (quickstart, containerapps-helloworld): a static page on ``$PORT``.

Run by the emulator's runtime in place of the real binary named in the image's command, from the
image's working directory, with only the standard library. It answers ``GET /`` with the image's
``index.html`` (200) and anything else with 404, and writes one access line a request to stdout,
as the real images' web servers do.
"""

import http.server
import os
import sys
from datetime import UTC, datetime


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "acalab-standin"
    sys_version = ""

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in ("/", "/index.html"):
            with open("index.html", "rb") as fh:
                body = fh.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = b"404 page not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        stamp = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        sys.stdout.write(f'{self.client_address[0]} - - [{stamp}] "{self.requestline}" {args[1]} -\n')
        sys.stdout.flush()


def main() -> None:
    port = int(os.environ.get("PORT") or 80)
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    stamp = datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S")
    print(f"{stamp} Listening on :{port}...", flush=True)  # the quickstart image's first line
    server.serve_forever()


if __name__ == "__main__":
    main()
