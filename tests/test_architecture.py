"""The architecture's rules that import-linter cannot see: the engine touches no file and
prints nothing, and no module grows past about 600 lines without saying why.

(The layer contracts themselves are in pyproject.toml, checked by `lint-imports` in CI.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "affectation"
ENGINE = sorted((PACKAGE / "engine").glob("*.py"))
# Calls that read, write or print: none of them belongs in the engine.
IO_FUNCTIONS = {"open", "print", "input"}
IO_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "unlink",
              "rmdir", "rename", "replace", "touch", "iterdir", "glob", "rglob"}
IO_MODULES = {"os", "shutil", "tempfile", "pathlib", "io", "csv", "json", "sys"}
LONG_MODULE_LINES = 650
# HiGHS prints a banner on file descriptor 1 when created, before any option can be set:
# `mip.quiet_highs` points that descriptor at /dev/null for that instant. No file is read or
# written.
ALLOWED = {"mip.py": {"import os", "import sys", "open()"}}


def _io_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in IO_FUNCTIONS:
                found.append(f"{path.name}:{node.lineno} {f.id}()")
            elif isinstance(f, ast.Attribute) and f.attr in IO_METHODS and not (
                    isinstance(f.value, ast.Name)
                    and f.value.id in {"np", "re", "text", "dataclasses"}):
                found.append(f"{path.name}:{node.lineno} .{f.attr}()")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""])
            found += [f"{path.name}:{node.lineno} import {n}" for n in names
                      if n.split(".")[0] in IO_MODULES]
    return found


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_the_engine_reads_writes_and_prints_nothing(path: Path) -> None:
    allowed = ALLOWED.get(path.name, set())
    assert [c for c in _io_calls(path) if c.split(" ", 1)[1] not in allowed] == []


def test_the_io_detector_sees_a_file_read(tmp_path: Path) -> None:
    module = tmp_path / "stage.py"
    module.write_text("import json\n\ndef f(p):\n    return p.read_text()\n", encoding="utf-8")
    assert _io_calls(module) == ["stage.py:1 import json", "stage.py:4 .read_text()"]


def test_long_modules_say_why() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONG_MODULE_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Length:" not in doc:
                long.append(str(path.relative_to(PACKAGE)))
    assert long == [], "modules over about 600 lines need a 'Length:' note in their docstring"
