"""Redraw docs/images/report-refuted.png and report-proved.png: one claim each (Thm. 2.4 and Example A.2 of the
Cautious paper) from a report's JSON, rendered by the HTML report and drawn by headless Chromium at 1280 px.

    ams-theory verify --claim cautious.2.4 --claim cautious.A2 --json r.json --quiet
    python3 docs/make_screenshots.py r.json
"""
import json
from collections import Counter
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ams_theory.claims import report

SHOTS = {"report-refuted.png": ("cautious.2.4", 1500), "report-proved.png": ("cautious.A2", 1500)}


def main(path: str) -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("make_screenshots: needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    images = Path(__file__).resolve().parent / "images"
    for name, (cid, height) in SHOTS.items():
        one = {**doc, "claims": [c for c in doc["claims"] if c["id"] == cid], "figures": []}
        if not one["claims"]:
            print(f"make_screenshots: {cid} is not in {path}", file=sys.stderr)
            return 2
        one["totals"] = dict(Counter(c["verdict"] or c["status"] for c in one["claims"]))
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / "report.html"
            page.write_text(report.html_page(one), encoding="utf-8")
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--window-size=1280,{height}", "--virtual-time-budget=3000",
                            f"--screenshot={images / name}", page.as_uri()], check=True, capture_output=True,
                           timeout=120)
        print(images / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]) if len(sys.argv) == 2 else 2)
