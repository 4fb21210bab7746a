"""Code size: no function over 80 lines and no module over 500 in the package (the store's numbered
migrations excepted), as the project's rules ask. Walks `detector/` with `ast`; a failure lists each
offender with its length."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "detector"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.relative_to(PACKAGE).parts)


def long_functions(path: Path) -> list[tuple[str, int]]:
    """(qualified name, lines from `def` to the last line of the body) of every function over the limit."""
    out: list[tuple[str, int]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    out.append((name, lines))
                walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(ast.parse(path.read_text(), str(path)), "")
    return out


def test_the_walk_finds_the_package() -> None:
    assert len(_modules()) > 100


def test_no_function_over_80_lines() -> None:
    offenders = [
        f"{p.relative_to(PACKAGE.parent)}:{name} {n} lines"
        for p in _modules()
        for name, n in long_functions(p)
    ]
    assert not offenders, "functions over 80 lines:\n" + "\n".join(offenders)


def test_no_module_over_500_lines() -> None:
    offenders = [
        f"{p.relative_to(PACKAGE.parent)} {n} lines"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not offenders, "modules over 500 lines:\n" + "\n".join(offenders)


def test_the_limits_catch_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    src = tmp_path / "m.py"
    src.write_text(
        f"class C:\n    def f(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n        return 0\n"
    )
    assert long_functions(src) == [("C.f", MAX_FUNCTION_LINES + 2)]
