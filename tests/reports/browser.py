"""Headless Chromium from the OS packages, to check what a report page shows in a real browser.

The page is copied with a small script appended that writes what the browser laid out (each timeline's size,
sections, lanes and marks; the page's visible text) into the DOM, and ``--dump-dom`` returns it. The copy's
Content-Security-Policy is relaxed for that one inline script; the page itself allows none.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")

PROBE = """<script>
(function () {
  const out = {text: document.body.innerText, timelines: []};
  for (const svg of document.querySelectorAll("svg.timeline")) {
    const box = svg.getBoundingClientRect();
    out.timelines.push({
      lab: svg.dataset.lab, width: box.width, height: box.height,
      sections: [...svg.querySelectorAll("g.tl-section")].map(g => g.dataset.section),
      lanes: [...svg.querySelectorAll("g.tl-section[data-section='Observed states'] g.tl-row")].map(g => g.dataset.row),
      bars: [...svg.querySelectorAll("rect.bar")].filter(r => r.getBBox().width > 0).length,
      held: svg.querySelectorAll(".mark-held").length,
      missed: svg.querySelectorAll(".mark-missed").length,
    });
  }
  const pre = document.createElement("pre");
  pre.id = "acalab-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def inspect(page: Path, browser: str) -> dict[str, Any]:
    """What the browser shows of ``page``: {text, timelines: [...]}."""
    html = page.read_text(encoding="utf-8")
    html = html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    html = html.replace("</body>", PROBE + "</body>")
    with tempfile.TemporaryDirectory(prefix="acalab-browser-") as tmp:
        probe = page.with_name(f".probe-{page.name}")
        probe.write_text(html, encoding="utf-8")
        try:
            done = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp}", "--window-size=1200,1600",
                                   "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
        finally:
            probe.unlink()
    match = re.search(r'<pre id="acalab-probe">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the browser returned no probe (exit {done.returncode}): {done.stderr[-800:]}"
    import html as html_lib

    return json.loads(html_lib.unescape(match.group(1)))


def screenshot(page: Path, browser: str, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="acalab-browser-") as tmp:
        subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp}", "--window-size=1200,1800",
                        f"--screenshot={target}", page.as_uri()], capture_output=True, timeout=120, check=False)
