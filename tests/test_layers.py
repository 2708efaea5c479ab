"""The engine's layers import only downward, with no circles; the engine never imports the studio or Streamlit.

    text ← prosody ← model ← compose ← training ← measure ← the entries (cli, jobs, serve, quiet)

`errors` and `paths` use only the standard library and may be imported by every layer. Imports inside
functions count too: a lazy import that runs upward is still an upward import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

LAYERS = ("text", "prosody", "model", "compose", "training", "measure")
BASE = {"errors", "files", "paths"}  # standard library only; every layer may use them


def imported_modules(path: Path, package: str) -> set[str]:
    """Every `package...` module a file imports, anywhere in it, as dotted names (`from a import b` gives a.b
    when b is a module of the tree, else a)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return found


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every module of `package` under `root`."""
    files = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the modules of the same tree it imports (names that are not modules, like classes, dropped)."""
    files = module_files(root, package)
    return {name: {m for m in imported_modules(path, package) if m in files and m != name}
            for name, path in files.items()}


def layer_of(module: str) -> str:
    """`text`, …, `measure`; `base` for errors, files and paths; `entry` for the rest of the top (cli, jobs, serve, quiet)."""
    parts = module.split(".")
    if len(parts) < 2:
        return "package"
    if parts[1] in LAYERS:
        return parts[1]
    return "base" if parts[1] in BASE else "entry"


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs that break the layering."""
    rank = {layer: i for i, layer in enumerate(("base", *LAYERS, "entry"))}
    bad = []
    for module, imported in graph.items():
        source = layer_of(module)
        if source == "package":
            continue
        for target in imported:
            target_layer = layer_of(target)
            if target_layer == "package" or rank[target_layer] > rank[source]:
                bad.append((module, target))
    return sorted(bad)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles among modules (depth-first search; each circle once, as found)."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_layers_import_only_downward():
    assert upward_imports(import_graph(REPO, "poetry_lm")) == []


def test_no_import_circles():
    assert circles(import_graph(REPO, "poetry_lm")) == []


def test_every_module_lives_in_a_layer_or_is_an_entry():
    top = {name.split(".")[1] for name in module_files(REPO, "poetry_lm") if name.count(".") == 1}
    assert top - set(LAYERS) - BASE == {"__main__", "cli", "jobs", "serve", "quiet"}


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_says_what_it_may_import(layer):
    """The package docstring names exactly the layers below it, so the docstring stays true."""
    init = REPO / "poetry_lm" / layer / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree) or ""
    allowed = re.search(r"May import:(.*)", docstring, re.S)
    assert allowed, f"{init} has no 'May import:' line"
    named = set(re.findall(r"`(\w+)`", allowed.group(1))) & set(LAYERS)
    assert named == set(LAYERS[: LAYERS.index(layer)])
    assert all(isinstance(node, ast.Expr) for node in tree.body), "a layer's __init__ imports nothing (jobs stays Keras-free)"


def test_base_modules_use_the_standard_library_and_each_other_only():
    graph = import_graph(REPO, "poetry_lm")
    for name in BASE:
        assert graph[f"poetry_lm.{name}"] <= {f"poetry_lm.{other}" for other in BASE}, name


def test_the_engine_never_imports_the_studio_or_streamlit():
    for path in (REPO / "poetry_lm").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(streamlit|studio)\b", text, re.M), path


def test_the_studio_pages_import_the_engine_not_each_others_tabs():
    """Pages may share `widgets`, `models` and `cards` (and the corpus page's cached table); the entry imports the pages."""
    graph = import_graph(REPO, "studio")
    shared = {"studio.widgets", "studio.models", "studio.cards", "studio.corpus"}
    for page, imported in graph.items():
        assert imported <= shared | {"studio"}, (page, imported - shared)


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path):
    """The checks above can fail: a made-up tree with one upward import and one circle."""
    package = tmp_path / "poetry_lm"
    for layer in LAYERS:
        (package / layer).mkdir(parents=True)
        (package / layer / "__init__.py").write_text('"""x."""\n')
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text("")
    (package / "text" / "corpus.py").write_text("from poetry_lm.compose.decode import step\n")
    (package / "compose" / "decode.py").write_text("def step():\n    from poetry_lm.compose import generate\n")
    (package / "compose" / "generate.py").write_text("import poetry_lm.compose.decode\nfrom poetry_lm.errors import E\n")
    graph = import_graph(tmp_path, "poetry_lm")
    assert upward_imports(graph) == [("poetry_lm.text.corpus", "poetry_lm.compose.decode")]
    assert circles(graph) == [["poetry_lm.compose.decode", "poetry_lm.compose.generate", "poetry_lm.compose.decode"]]
