"""The package's import graph: no cycle between modules, and no import from a lower layer to a higher one.

Every module of `detector/` is read with `ast` (not imported), and every import counts: at module
level, inside functions (a lazy import of a heavy library is fine, but it still depends on what it
imports) and under `if TYPE_CHECKING:`. The layers, lowest first (a module may import its own layer
and those below it):

0. foundation: `errors`, `base` (the pydantic base), `classes` (the COCO vocabulary), `types`
   (Detections, Frame, Track, Violation), `safeyaml`, the package itself (its version).
1. config: `detector.config`, every schema (camera, rules, signal, plates, riders, evidence,
   runtime, telemetry, store, notices, sections, batch). It imports no stage.
2. components, each a piece of the frame's processing built from its config: `geometry` (zones,
   homography, scene), `signals`, `ignore`, `detect`, `track`, `plates`, `diskguard`, `modelfiles`,
   and `annotate` (the drawing of every picture: zones, signal, tracks, labels).
3. decisions and records: `rules`, `riders`, `evidence` (bundles, chain, verify), `network` (plate
   matching, section speed, hotlists, statistics: pure logic over records), `configcheck` (every
   check of a camera config, some of which need components).
4. store: `detector.store` (SQL, ingest of verified bundles, review, fines, notices). It reads
   bundles and network records; it knows nothing of frames.
5. frame loop: `framesource`, `sources`, `av_sources`, `pipeline`, `stages`, `outputs`, and
   `network.hotlist_stage` (a stage of the loop: reads passing plates for the hotlist).
6. runtime: `assemble`, `runtime`, `telemetry`: a replay or a live run, which hands its bundles to
   the store as an edge box does (so the store sits below the runtime, not above it).
7. applications: `api` (HTTP over the store), `batch` (many replays on a cluster), `sample` (the
   generated sample scene and its measurement).
8. the CLI: `cli` and `__main__`, which may import anything (lazily: a command's modules load when
   it runs).

A module is placed by the longest prefix in `LAYERS`; a module no prefix places fails the test, so
a new top-level module has to be given its place here.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "detector"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "detector",
            "detector.errors",
            "detector.base",
            "detector.classes",
            "detector.types",
            "detector.safeyaml",
            "detector.fsutil",
            "detector.measures",
            "detector.modelinfo",
            "detector.platetext",
        ),
    ),
    ("config", ("detector.config",)),
    (
        "components",
        (
            "detector.geometry",
            "detector.signals",
            "detector.annotate",
            "detector.ignore",
            "detector.detect",
            "detector.track",
            "detector.plates",
            "detector.diskguard",
            "detector.modelfiles",
        ),
    ),
    (
        "decisions",
        (
            "detector.rules",
            "detector.riders",
            "detector.evidence",
            "detector.network",
            "detector.configcheck",
        ),
    ),
    ("store", ("detector.store",)),
    (
        "frame loop",
        (
            "detector.framesource",
            "detector.sources",
            "detector.av_sources",
            "detector.pipeline",
            "detector.stages",
            "detector.outputs",
            "detector.network.hotlist_stage",
            "detector.network.passage_stage",
            "detector.network.live_stats",
        ),
    ),
    ("runtime", ("detector.assemble", "detector.runtime", "detector.telemetry")),
    ("applications", ("detector.api", "detector.batch", "detector.sample")),
    ("cli", ("detector.cli", "detector.__main__")),
)


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    line: int
    where: str  # "module", "function" or "type-checking"
    file: str = ""  # the source's path in the repository

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.file}:{self.line}, {self.where})"


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _context(tree: ast.Module) -> dict[int, str]:
    """`id(import node)` -> where it sits: inside a function, under `if TYPE_CHECKING:`, else module."""
    where: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    where[id(inner)] = "function"
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    where.setdefault(id(inner), "type-checking")
    return where


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    for alias in node.names:
        yield f"{base}.{alias.name}"  # a submodule, or a name of `base` (resolved below)


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module `name` lives in: itself, or the nearest enclosing module (a name imported from it)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def import_graph() -> list[Edge]:
    known = modules()
    edges: dict[Edge, None] = {}  # insertion-ordered set
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        context = _context(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _targets(node, module, path.name == "__init__.py"):
                if not name.startswith("detector"):
                    continue
                target = _resolve(name, known)
                where = context.get(id(node), "module")
                edge = Edge(module, target or "", node.lineno, where, str(path.relative_to(PACKAGE.parent)))
                if target is not None and target != module:
                    edges[edge] = None
    return list(edges)


def _places(prefix: str, module: str) -> bool:
    """`prefix` names `module` or a package above it; the root package `detector` names only itself."""
    return module == prefix or (prefix != "detector" and module.startswith(prefix + "."))


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if _places(prefix, module) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_graph_is_read() -> None:
    edges = import_graph()
    assert len(modules()) > 150 and len(edges) > 500
    seen = {(e.source, e.target, e.where) for e in edges}
    assert ("detector.rules.engine", "detector.geometry", "module") in seen  # `from detector.geometry import`
    assert ("detector.config.camera", "detector.config.rules", "module") in seen  # a submodule by name
    assert any(s == "detector.cli.configs" for s, _, _ in seen)
    assert any(w == "function" for _, _, w in seen) and any(w == "type-checking" for _, _, w in seen)


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in modules() if layer_of(m) is None)
    assert not unplaced, f"modules with no layer (add them to LAYERS): {unplaced}"


def test_no_import_cycle() -> None:
    edges = import_graph()
    found = cycles(edges)
    lines = []
    for component in found:
        members = set(component)
        lines.append(" <-> ".join(component))
        lines += [f"    {e}" for e in edges if e.source in members and e.target in members]
    assert not found, "import cycles:\n" + "\n".join(lines)


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    upward = []
    for e in import_graph():
        src, dst = layer_of(e.source), layer_of(e.target)
        if src is not None and dst is not None and dst > src:
            upward.append(f"{e}: {LAYERS[src][0]} imports {LAYERS[dst][0]}")
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_the_checks_catch_what_they_are_for() -> None:
    """The test's own machinery on a made-up graph: a cycle and an upward import are found."""
    made_up = [Edge("a", "b", 1, "module"), Edge("b", "c", 2, "function"), Edge("c", "a", 3, "module")]
    assert cycles(made_up) == [["a", "b", "c"]]
    assert cycles(made_up[:2]) == []
    assert layer_of("detector.config.rules") == 1 and layer_of("detector.network.hotlist_stage") == 5
    assert layer_of("detector.network.section") == 3 and layer_of("detector") == 0
    assert layer_of("detector.configx") is None and layer_of("detector.new_module") is None
