"""No code path of the project can unpickle or run YAML tags: checked on the source itself.

A persona pack, a config or a dataset may come from someone else; loading one must never run
code. The loaders are tested one by one elsewhere (tests/test_packs.py); this scan keeps a
future change from adding a `pickle.load`, an unrestricted `torch.load` or a `yaml.load`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(path for folder in ("em_monitor", "callbacks", "benchmarks", "examples", "scripts") for path in (ROOT / folder).rglob("*.py"))
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "shelve", "marshal"}


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def test_the_scan_sees_the_code():
    assert len(SOURCES) > 40 and ROOT / "em_monitor" / "packs.py" in SOURCES


def test_no_unpickling_modules_are_imported():
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not UNSAFE_MODULES & {name.split(".")[0] for name in names}, f"{path}: imports {names}"


def test_torch_load_is_always_restricted_to_weights():
    checked = 0
    for path in SOURCES:
        for node, name in calls(ast.parse(path.read_text(encoding="utf-8"))):
            if name.endswith("torch.load"):
                keywords = {keyword.arg: ast.unparse(keyword.value) for keyword in node.keywords}
                assert keywords.get("weights_only") == "True", f"{path}:{node.lineno}: torch.load without weights_only=True"
                checked += 1
    assert checked >= 1, "the diff verb's checkpoint loader is one such call: the scan must have seen it"


def test_yaml_is_only_safe_loaded():
    for path in SOURCES:
        for node, name in calls(ast.parse(path.read_text(encoding="utf-8"))):
            assert name not in {"yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load"}, f"{path}:{node.lineno}: {name}; use yaml.safe_load"
