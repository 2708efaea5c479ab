"""How long hostile inputs take to be refused (issue 27): archives that declare huge shapes, special files
as model files, oversized templates and analyses. Each case runs in a fresh interpreter; a load is timed
inside it (after the imports), beside the same load of the intact bundled model, so the ratio shows what
a refusal costs against a normal load. Command-line cases are timed from start to exit. Writes docs/results/hostile_inputs.json.

    python scripts/measure_hostile_inputs.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "models" / "default"
OUT = REPO / "docs" / "results" / "hostile_inputs.json"
# The load alone is timed inside the process (importing TensorFlow takes ~5 s on this CPU, refusal or not).
LOAD = ("import sys, time, json; from poetry_lm.model.network import load_model_dir; from poetry_lm.errors import PoetryError\n"
        "started = time.perf_counter()\n"
        "try: load_model_dir(sys.argv[1]); outcome = 'loaded'\n"
        "except PoetryError as err: outcome = f'error: {err}'\n"
        "print(json.dumps({'load_s': round(time.perf_counter() - started, 3), 'outcome': outcome}, ensure_ascii=False))")
ANALYSE = ("from poetry_lm.prosody.analysis import analyse; from poetry_lm.errors import PoetryError; import sys\n"
           "try: analyse(open(sys.argv[1], encoding='utf-8').read())\n"
           "except PoetryError as err: sys.exit(f'error: {err}')")
LIST = ("from poetry_lm import jobs; import sys, pathlib; "
        "print({n: jobs.model_problem(pathlib.Path(sys.argv[1]) / n) for n in jobs.list_models(sys.argv[1])})")


def rewrite_archive(folder: Path, edit) -> None:
    path = folder / "model.keras"
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    edit(config)
    entries["config.json"] = json.dumps(config).encode()
    entries["model.weights.h5"] = entries["model.weights.h5"][: 480 * 1024]  # a ~490 kB archive, as reported
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def layers(config: dict, class_name: str) -> list[dict]:
    return [layer["config"] for layer in config["config"]["layers"] if layer["class_name"] == class_name]


def copy_bundled(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for file in ("config.json", "vocab.json", "model.keras"):
        shutil.copy(BUNDLED / file, folder / file)
    return folder


def timed(args: list[str]) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    case = {"seconds": round(time.perf_counter() - started, 2), "exit": result.returncode,
            "last_line": (result.stdout.strip().splitlines() or result.stderr.strip().splitlines() or [""])[-1][:160]}
    try:
        case.update(json.loads(case["last_line"]))  # the in-process load time, where the case reports one
    except ValueError:
        case["load_s"] = case["seconds"]
    return case


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        cases = {}
        lstm = copy_bundled(root, "lstm6000")
        rewrite_archive(lstm, lambda c: [layer.update(units=6000) for layer in layers(c, "LSTM")])
        both = copy_bundled(root, "lstm6000_both")
        rewrite_archive(both, lambda c: [layer.update(units=6000) for layer in layers(c, "LSTM")])
        config = json.loads((both / "config.json").read_text(encoding="utf-8"))
        config["model"]["units"] = 6000
        (both / "config.json").write_text(json.dumps(config), encoding="utf-8")
        embedding = copy_bundled(root, "embedding400m")
        rewrite_archive(embedding, lambda c: layers(c, "Embedding")[0].update(input_dim=4 * 10**8))
        fifo = copy_bundled(root, "fifo")
        (fifo / "config.json").unlink()
        os.mkfifo(fifo / "config.json")
        cases["intact bundled model (reference)"] = timed(["-c", LOAD, str(BUNDLED)])
        for folder in (lstm, both, embedding, fifo):
            cases[f"load {folder.name}"] = timed(["-c", LOAD, str(folder)])
        cases["model list with a FIFO folder"] = timed(["-c", LIST, str(root)])
        cases["generate --template 500 lines"] = timed(["-m", "poetry_lm", "generate", "--template", "＿＿＿＿＿，" * 500])
        big = root / "big.txt"  # 1 MB does not fit in one command-line argument: the engine reads it from a file
        big.write_text("床前明月光，" * 170_000, encoding="utf-8")
        cases["analyse 1 MB (engine)"] = timed(["-c", ANALYSE, str(big)])
        OUT.write_text(json.dumps(cases, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        reference = cases["intact bundled model (reference)"]["load_s"]
        for name, case in cases.items():
            print(f"{name:34s} {case['load_s']:6.3f} s ({case['load_s'] / reference:5.3f}× loading the bundled model)  "
                  f"{case.get('outcome', case['last_line'])[:110]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
