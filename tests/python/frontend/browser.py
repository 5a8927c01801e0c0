"""Runs one of the web app's browser scripts (frontend/e2e/*.mjs: headless Debian Chromium driven by
playwright-core) and returns what the page showed, the JSON object the script prints last."""

from __future__ import annotations

import json
import subprocess

from opendpg.config import project_root

ROOT = project_root()
SCREENSHOTS = ROOT / "build" / "screenshots" / "web-app"


def run_browser(script: str, *args: str, timeout: float = 600) -> dict:
    """Generous limits (the scripts' own waits are up to 3-4 minutes each): a busy machine mines and renders
    slowly; the tests using it allow 15 minutes."""
    assert (ROOT / "frontend" / "dist" / "index.html").is_file(), "build the web app first: make frontend"
    run = subprocess.run(["node", f"e2e/{script}", *args], cwd=ROOT / "frontend", capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])
