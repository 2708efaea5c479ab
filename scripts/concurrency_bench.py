"""Does one shared PoemGenerator need a lock? Side by side in one run: 4 threads × 40 requests
(8 七言 candidates each) with every call serialised by a lock vs calls running concurrently; and
whether each request's poems equal the same request made alone (same seed).

    python scripts/concurrency_bench.py [--threads 4 --requests 40 --repeats 2]

Prints one JSON line; docs/results/concurrency.json holds the figures quoted in README.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from poetry_lm.compose.generate import PoemGenerator  # noqa: E402
from poetry_lm.compose.settings import Settings  # noqa: E402

HEADS = ["春花秋月", "山高水长", "风雨同舟", "明月清风"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    generator = PoemGenerator.load()

    def request(i: int) -> list[str]:
        return [poem.text for poem in generator.generate(Settings(HEADS[i % len(HEADS)], 7, 8, seed=i))]

    alone = [request(i) for i in range(args.requests)]
    unlocked_generate = generator.generate
    lock = threading.Lock()

    def locked_generate(settings):
        with lock:
            return unlocked_generate(settings)

    result = {"threads": args.threads, "requests": args.requests, "cpu_count": os.cpu_count()}
    for name, generate in [("serialised", locked_generate), ("concurrent", unlocked_generate)]:
        generator.generate = generate
        rates, same = [], True
        for _ in range(args.repeats):
            started = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                poems = list(pool.map(request, range(args.requests)))
            rates.append(round(args.requests / (time.perf_counter() - started), 2))
            same &= poems == alone
        result[name] = {"requests_per_s": rates, "poems_equal_alone": same}
    result["concurrent_over_serialised"] = round(
        max(result["concurrent"]["requests_per_s"]) / max(result["serialised"]["requests_per_s"]), 2
    )
    with contextlib.suppress(AttributeError):
        del generator.generate
    print(json.dumps(result))


if __name__ == "__main__":
    main()
