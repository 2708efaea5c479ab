"""Load test: many sessions writing poems at once, every poem checked; throughput and latency percentiles.

    python scripts/load_test.py engine [--sessions 20 --requests 5 --candidates 4 --model models/default]
        20 threads share one cached PoemGenerator (as Streamlit sessions share st.cache_resource).
    python scripts/load_test.py app [--url http://127.0.0.1:8501 --sessions 4 --health 200]
        a bounded number of requests against `streamlit run app.py`: health-endpoint GETs, then
        concurrent headless-Chromium sessions that type heads, click 写诗 and read the poem cards.
        Without --url it starts the app itself on a free localhost port and stops it afterwards.

Prints a table and one JSON line; exits 1 if any poem was malformed or any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
HEADS = ["春花秋月", "山水", "明月清风", "江南好", "风", "一二三四五六七八", "龘春"]  # 龘: not in the vocabulary
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

from poetry_lm.text.corpus import poem_problems  # noqa: E402  (after the repository is on sys.path)


def percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {f"p{p}_ms": round(float(np.percentile(values, p)), 1) for p in (50, 90, 99)} | {
        "max_ms": round(float(values.max()), 1)
    }


def run_engine(args) -> dict:
    """`sessions` threads, `requests` generate calls each, through one shared generator."""
    from poetry_lm.compose.generate import PoemGenerator, Settings

    started = time.perf_counter()
    generator = PoemGenerator.load(args.model)  # loads and traces once, like st.cache_resource
    load_s = time.perf_counter() - started
    latencies: list[float] = []
    problems: list[str] = []
    poems_written = 0
    lock = threading.Lock()
    barrier = threading.Barrier(args.sessions)

    def session(index: int) -> None:
        nonlocal poems_written
        barrier.wait()  # every session starts at the same moment
        for request in range(args.requests):
            heads = HEADS[(index + request) % len(HEADS)]
            line_length = 5 + 2 * ((index + request) % 2)
            settings = Settings(heads, line_length, args.candidates, seed=index * 1000 + request)
            begin = time.perf_counter()
            poems = generator.generate(settings)
            elapsed = time.perf_counter() - begin
            found = [p for poem in poems for p in poem_problems(poem.lines, heads, line_length, poem.text)]
            if len(poems) != args.candidates:
                found.append(f"{len(poems)} candidates instead of {args.candidates}")
            with lock:
                latencies.append(elapsed)
                problems.extend(found)
                poems_written += len(poems)

    wall_start = time.perf_counter()
    with ThreadPoolExecutor(args.sessions) as pool:
        list(pool.map(session, range(args.sessions)))
    wall = time.perf_counter() - wall_start
    return {
        "mode": "engine", "model": str(generator.model_dir.path), "sessions": args.sessions,
        "requests": len(latencies), "candidates_per_request": args.candidates, "poems": poems_written,
        "malformed": len(problems), "wall_s": round(wall, 2), "load_and_trace_s": round(load_s, 2),
        "requests_per_s": round(len(latencies) / wall, 2), "poems_per_s": round(poems_written / wall, 2),
        **percentiles(latencies), "cpu_count": os.cpu_count(), "problems": problems[:5],
    }


def start_app(workdir: Path):
    """`streamlit run app.py` on a free port over a models dir holding only the bundled model."""
    from poetry_lm.serve import start_studio

    models = workdir / "models"
    models.mkdir()
    (models / "default").symlink_to(REPO / "models" / "default")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return start_studio(models, workdir / "streamlit.log", env=env)


def health_latencies(url: str, count: int, workers: int = 8) -> tuple[list[float], int]:
    """`count` GETs of the health endpoint from `workers` threads: (latencies, failures)."""

    def one(_: int) -> float | None:
        begin = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:
                ok = response.status == 200 and response.read().strip() == b"ok"
        except OSError:
            ok = False
        return time.perf_counter() - begin if ok else None

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, range(count)))
    return [r for r in results if r is not None], sum(r is None for r in results)


async def browser_sessions(url: str, sessions: int, timeout_ms: int) -> tuple[list[float], list[str]]:
    """Concurrent Streamlit sessions in one headless Chromium: latency from click to poem cards."""
    from playwright.async_api import async_playwright

    async def session(browser, index: int) -> float:
        heads = HEADS[index % 4]
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        try:
            page = await context.new_page()
            await page.goto(url, wait_until="domcontentloaded")
            field = page.get_by_label("藏头字", exact=False)
            await field.wait_for(timeout=timeout_ms)
            await field.fill(heads)
            await field.press("Enter")
            await page.wait_for_timeout(800)
            begin = time.perf_counter()
            await page.get_by_role("button", name="写诗").click()
            card = page.locator(".poem").first
            await card.wait_for(timeout=timeout_ms)
            elapsed = time.perf_counter() - begin
            lines = [line[:-1] for line in await card.locator(".poem-line").all_inner_texts()]
            text = "".join(await card.locator(".poem-line").all_inner_texts())
            problems = poem_problems(lines, heads, 7, text)  # the app's default form is 七言
            if await page.get_by_text("Traceback").count():
                problems.append("Traceback on the page")
            if problems:
                raise AssertionError("; ".join(problems))
            return elapsed
        finally:
            await context.close()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            results = await asyncio.gather(*(session(browser, i) for i in range(sessions)), return_exceptions=True)
        finally:
            await browser.close()
    latencies = [r for r in results if isinstance(r, float)]
    failures = [f"{type(r).__name__}: {str(r)[:200]}" for r in results if not isinstance(r, float)]
    return latencies, failures


def run_app(args) -> dict:
    """Health GETs, one warm-up session (model load and trace), then concurrent browser sessions."""
    with tempfile.TemporaryDirectory() as workdir:
        process, url = (None, args.url) if args.url else start_app(Path(workdir))
        try:
            health, health_failures = health_latencies(url, args.health)
            warm, warm_failures = asyncio.run(browser_sessions(url, 1, args.timeout_s * 1000))
            wall_start = time.perf_counter()
            latencies, failures = asyncio.run(browser_sessions(url, args.sessions, args.timeout_s * 1000))
            wall = time.perf_counter() - wall_start
        finally:
            if process is not None:
                from poetry_lm.serve import stop_studio

                stop_studio(process)
    return {
        "mode": "app", "url": url, "health_requests": args.health, "health_failures": health_failures,
        "health": percentiles(health) if health else None, "warm_up_s": round(warm[0], 2) if warm else None,
        "sessions": args.sessions, "sessions_ok": len(latencies), "malformed_or_failed": len(failures) + len(warm_failures),
        "wall_s": round(wall, 2), "click_to_poem": percentiles(latencies) if latencies else None,
        "cpu_count": os.cpu_count(), "problems": (warm_failures + failures)[:5],
    }


def print_table(report: dict) -> None:
    for key, value in report.items():
        if key != "problems" and not isinstance(value, dict):
            print(f"{key:>24}  {value}")
        elif isinstance(value, dict):
            print(f"{key:>24}  " + "  ".join(f"{k} {v}" for k, v in value.items()))
    for problem in report.get("problems", []):
        print(f"{'problem':>24}  {problem}")
    print(json.dumps(report, ensure_ascii=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    engine = modes.add_parser("engine", help="threads sharing one PoemGenerator")
    engine.add_argument("--sessions", type=int, default=20)
    engine.add_argument("--requests", type=int, default=5, help="generate calls per session")
    engine.add_argument("--candidates", type=int, default=4)
    engine.add_argument("--model", help="model directory (default: the bundled model)")
    app = modes.add_parser("app", help="a running (or started) `streamlit run app.py`")
    app.add_argument("--url", help="e.g. http://127.0.0.1:8501; started on a free port when left out")
    app.add_argument("--sessions", type=int, default=4, help="concurrent browser sessions (bounded: 2-core box)")
    app.add_argument("--health", type=int, default=200, help="health-endpoint GETs")
    app.add_argument("--timeout-s", type=int, default=180)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    report = run_engine(args) if args.mode == "engine" else run_app(args)
    print_table(report)
    failed = report.get("malformed", 0) + report.get("malformed_or_failed", 0) + report.get("health_failures", 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
