"""How soon the studio can be used after a (re)start: from the server's health answer to the heads box in
Chromium, to the 写诗 button being enabled, and to the first poem after a click. Each run starts a fresh
server over a models folder holding the bundled model. Prints a table and writes
docs/results/first_paint.json.

    python scripts/measure_first_paint.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from poetry_lm.serve import start_studio, stop_studio  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUT = REPO / "docs" / "results" / "first_paint.json"


def one_run() -> dict:
    """One fresh server; the browser is started first, so its own start-up is not counted."""
    from playwright.sync_api import expect, sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="first-paint-"))
    models = folder / "models"
    models.mkdir()
    (models / "default").symlink_to(REPO / "models" / "default")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        process, url = start_studio(models, folder / "streamlit.log", timeout=120)
        healthy = time.perf_counter()
        try:
            page.goto(url, wait_until="domcontentloaded")
            heads = page.get_by_label("藏头字", exact=False)
            expect(heads).to_be_visible(timeout=120_000)
            heads_visible = time.perf_counter() - healthy
            button = page.get_by_role("button", name="写诗")
            expect(button).to_be_enabled(timeout=120_000)
            enabled = time.perf_counter() - healthy
            heads.fill("春花秋月")
            heads.press("Enter")
            page.wait_for_timeout(300)
            clicked = time.perf_counter()
            button.click()
            expect(page.locator(".poem").first).to_be_visible(timeout=120_000)
            first_poem = time.perf_counter() - clicked
        finally:
            browser.close()
            stop_studio(process)
            shutil.rmtree(folder, ignore_errors=True)
    return {"heads_box_s": round(heads_visible, 2), "write_enabled_s": round(enabled, 2),
            "first_poem_after_click_s": round(first_poem, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="now")
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    summary = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    results = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    results[args.label] = {"median": summary, "runs": runs}
    OUT.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for key, value in summary.items():
        print(f"{key:28s} median {value:6.2f} s   runs {[run[key] for run in runs]}")


if __name__ == "__main__":
    main()
