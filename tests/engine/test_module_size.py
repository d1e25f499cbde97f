"""No module in engine/ or app/ grows past ~300 lines without saying at its top why it is one module.

A long module usually mixes concerns and should be split by them; when it is one concern (a file format, one
widget, one GL context), its docstring says so in a line starting with "One module" ("One module because ..."
or "(One module: ...)"; README, "Tests and benchmarks").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 300
REASON = "One module because"
STATED = re.compile(r"^\(?One module\b")  # "One module because ..." or "(One module: ...)"


def long_modules_without_a_reason(root: Path, folders: list[str]) -> list[str]:
    found = []
    for path in sorted(p for folder in folders for p in (root / folder).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        doc = ast.get_docstring(ast.parse(source)) or ""
        if lines > MAX_LINES and not any(STATED.match(line.strip()) for line in doc.splitlines()):
            found.append(f"{path.relative_to(root)} ({lines} lines)")
    return found


def test_long_modules_say_why_they_are_one_module():
    found = long_modules_without_a_reason(ROOT, ["engine", "app"])
    assert not found, f"split these by concern, or state '{REASON} ...' in their docstring: {found}"


def test_the_check_sees_a_long_module_and_its_reason(tmp_path):
    (tmp_path / "long.py").write_text('"""A module."""\n' + "x = 1\n" * MAX_LINES)
    (tmp_path / "said.py").write_text(f'"""A module.\n\n{REASON} it is one file format.\n"""\n' + "x = 1\n" * MAX_LINES)
    (tmp_path / "also.py").write_text('"""A module.\n\n(One module: one widget.)\n"""\n' + "x = 1\n" * MAX_LINES)
    (tmp_path / "short.py").write_text('"""A module."""\n' + "x = 1\n" * (MAX_LINES - 1))
    assert long_modules_without_a_reason(tmp_path, ["."]) == [f"long.py ({MAX_LINES + 1} lines)"]
