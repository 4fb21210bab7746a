"""benchmarks/collect.py updates RESULTS.md in place: new figures replace their own sections, notes
written by hand under them and sections written by hand survive, a section edited by hand is left alone."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.conftest import REPO


def _collect() -> ModuleType:
    spec = importlib.util.spec_from_file_location("collect", REPO / "benchmarks" / "collect.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_new_figures_replace_their_section_and_keep_everything_written_by_hand():
    c = _collect()
    gen = "<!-- generated from benchmarks/results/edge.md by benchmarks/collect.py -->"
    doc = "\n\n".join(
        [
            "# Benchmark results\n\nintro",
            f"## Edge run\n{gen}\n\n| old | table |\n\n{c.NOTES}\n\nReading this run: by hand.",
            "## A session's own section\n\nwritten by hand",
            "## Rules\n\nold rules figures, then edited by hand",
        ]
    )
    new_edge = f"## Edge run\n{gen}\n\n| new | table |"
    new_rules = (
        "## Rules\n<!-- generated from benchmarks/results/rules.md by benchmarks/collect.py -->\n\nnew"
    )
    added = "## Soak\n<!-- generated from benchmarks/results/soak.md by benchmarks/collect.py -->\n\nsoak"
    out, edited = c.merge(doc, [new_edge, new_rules, added])
    assert "| new | table |" in out and "| old | table |" not in out
    assert out.index("| new | table |") < out.index("Reading this run: by hand.")  # notes kept below
    assert "written by hand" in out and "old rules figures, then edited by hand" in out
    assert edited == ["## Rules"] and "\nnew" not in out.split("## Rules")[1].split("## Soak")[0]
    assert out.rstrip().endswith("soak")  # a section not there yet is added at the end
    again, _ = c.merge(out, [new_edge, new_rules, added])
    assert again == out  # idempotent
    forced, none_left = c.merge(doc, [new_rules], replace_edited=True)
    assert none_left == [] and "edited by hand" not in forced
