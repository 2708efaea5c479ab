"""Keep TensorFlow's native log lines away from users, on every CPU.

TensorFlow's C++ code writes to file descriptor 2 directly: at import ("Could not find cuda
drivers", the absl pre-init warning) and at the first op of some kinds, depending on the CPU
(oneDNN notes on AVX-512 machines, cuInit failures elsewhere). TF_CPP_MIN_LOG_LEVEL does not stop
the import-time lines, and Python's sys.stderr never sees any of them, so both tools below work on
the file descriptor itself.
"""

from __future__ import annotations

import contextlib
import os
import sys

# Set to 1 to see what TensorFlow's native code prints (device set-up, oneDNN notes) while debugging.
NATIVE_STDERR_ENV = "POETRY_LM_NATIVE_STDERR"


@contextlib.contextmanager
def native_stderr_silenced():
    """For the whole command, send whatever native code writes to file descriptor 2 to /dev/null.

    TensorFlow's C++ logging writes straight to fd 2, at start-up and at the first op of some kinds
    (which lines depends on the CPU: oneDNN notes on AVX-512 machines, cuInit on others), ignoring
    Python's sys.stderr. Python's own stderr is re-pointed at a copy of the real fd 2 first, so the
    CLI's `error:` line, Python warnings and tracebacks of real bugs still reach the user.
    """
    if os.environ.get(NATIVE_STDERR_ENV) == "1":
        yield
        return
    sys.stderr.flush()
    real_fd, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    python_stderr = sys.stderr
    if _writes_to_fd(python_stderr, 2):
        sys.stderr = open(real_fd, "w", encoding=python_stderr.encoding, errors="backslashreplace", closefd=False)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real_fd, 2)
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.close(real_fd)
        os.close(devnull)


def _writes_to_fd(stream, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False  # pytest's capture, StringIO: not the process's stderr


def import_tensorflow_quietly() -> None:
    """Import TensorFlow for a long-running process (the app) without its start-up lines.

    Native stderr is muted only while importing; afterwards TF_CPP_MIN_LOG_LEVEL=3 keeps the
    per-op notes out, while Python's logging (Streamlit's own lines) is untouched.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        try:
            import tensorflow as tf
        except ImportError:
            return  # another Keras backend: nothing to quieten
        tf.config.list_logical_devices()  # device set-up prints its lines now, not at the first request
