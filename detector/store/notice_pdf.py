"""The printed notice as PDF: the stored HTML notice printed by headless Chromium (`--print-to-pdf`).

Chromium is Debian's package (installed by scripts/setup.sh for the console's browser tests); no
Python PDF renderer is in the dependencies. The page is self-contained (pictures embedded as data
URLs), loaded from a local file with every host name resolving to nothing, so printing never
touches the network. The CSS's `@page` rule (A4, margins) and `@media print` decide the layout.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from detector.errors import ConfigError, DetectorError

log = logging.getLogger(__name__)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


class PdfError(DetectorError):
    """Chromium failed to print the notice."""


def find_chromium(explicit: str | None = None) -> str:
    """The browser to print with: `explicit`, else $DETECTOR_CHROMIUM, else the first on PATH."""
    for name in (explicit, os.environ.get("DETECTOR_CHROMIUM"), *CHROMIUM_NAMES):
        if name and (found := shutil.which(name)):
            return found
    raise ConfigError(
        "no Chromium to print the notice as PDF (install Debian's `chromium` or set DETECTOR_CHROMIUM); "
        "write the HTML notice instead (--out FILE.html)"
    )


def html_to_pdf(html: bytes, out: Path, *, chromium: str | None = None, timeout_s: float = 90.0) -> Path:
    """Print `html` (a complete, self-contained document) to the PDF `out`, atomically."""
    browser = find_chromium(chromium)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="notice-pdf-") as tmp:
        page = Path(tmp) / "notice.html"
        page.write_bytes(html)
        pdf = Path(tmp) / "notice.pdf"
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",  # root in a container; the page is our own, with no script
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing leaves the machine
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        try:
            run = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)  # noqa: S603
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"{browser}: printing the notice took over {timeout_s:.0f} s") from exc
        if run.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            tail = run.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(f"{browser} did not print the notice (exit {run.returncode}): {' | '.join(tail)}")
        data = pdf.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise PdfError(f"{browser} wrote something that is not a PDF")
    tmp_out = out.with_name(f".{out.name}.tmp")
    tmp_out.write_bytes(data)
    os.chmod(tmp_out, 0o644)
    os.replace(tmp_out, out)
    log.info("notice printed to %s (%d bytes)", out, len(data))
    return out
