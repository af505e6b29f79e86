"""Imports go one way: pages, api, jobs -> core; core -> nothing of ours above it."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = {"streamlit", "fastapi", "starlette", "schedule", "api", "jobs", "pages", "app"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_nothing_above_it():
    offenders = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        bad = _imported_roots(path) & FORBIDDEN_IN_CORE
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_checker_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\nfrom fastapi import FastAPI\nfrom jobs import x\n")
    assert {"streamlit", "fastapi", "jobs"} <= _imported_roots(bad)
