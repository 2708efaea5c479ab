"""Where the project's files are: the package's data, the repository root, the bundled model.

Standard library only, so every layer may import it (like `errors`).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"  # tone and rhyme tables, variant forms, the card font
REPO_ROOT = PACKAGE_DIR.parent
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "default"
DEFAULT_CI_MODEL_DIR = REPO_ROOT / "models" / "ci"  # the bundled model continued on 诗 and 词: it writes 词 by tune
DEFAULT_COUPLET_MODEL_DIR = REPO_ROOT / "models" / "couplet"  # the aligned 上联 → 下联 model (compose.couplet)
