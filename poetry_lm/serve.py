"""Run the studio (`streamlit run app.py`) as a child process on a free localhost port.

What the browser test and the load test need: a free port, a server started over a given models
folder, a wait until its health endpoint answers, and a clean stop of its whole process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.jobs import MODELS_ENV
from poetry_lm.paths import REPO_ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_studio(models: Path, log_path: Path, env: dict | None = None, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` over `models`, its console in `log_path`; (process, url) once healthy.

    `env` defaults to this process's environment; the server reads the repository's
    .streamlit/config.toml as a user's would. Raises PoetryError (with the log's end) if it exits
    or stays unhealthy; it is stopped in that case.
    """
    port = free_port()
    env = {**(os.environ if env is None else env), MODELS_ENV: str(models)}
    command = [
        sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.headless", "true",
        "--server.port", str(port), "--server.fileWatcherType", "none",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log_path, timeout)
    except PoetryError:
        stop_studio(process)
        raise
    return process, url


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Poll Streamlit's health endpoint until it answers 200; PoetryError if the server exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PoetryError(f"streamlit exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise PoetryError(f"streamlit did not become healthy in {timeout:.0f} s:\n{_tail(log_path)}")


def stop_studio(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the server's process group; SIGKILL it if it has not exited after `grace` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


def _tail(log_path: Path, chars: int = 3000) -> str:
    try:
        return Path(log_path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""
