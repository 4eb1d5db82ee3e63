"""The architecture of the `worldsim` package, checked from source: layers import downward only,
nothing imports in a cycle, and the `agents/` scripts stand alone.

Static (`ast`, the package is never imported), so it runs in well under a second and needs no
simulator, no model and no GPU.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "worldsim"
AGENTS_DIR = ROOT / "agents"

# The layers, bottom to top. A module may import its own layer or any layer below it, never one
# above. A module belongs to the layer of the longest prefix that names it; a module no prefix
# names fails `test_every_module_is_placed`, so a new module is placed deliberately.
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("worldsim.domains", "worldsim.fanout", "worldsim.scenario", "worldsim.video"),
    "language": ("worldsim.language",),  # attributes, captions and prompts: words over states
    "sources": ("worldsim.sources",),
    "behaviour": ("worldsim.behaviour",),
    "data": ("worldsim.data",),
    "model": ("worldsim.model",),  # worldsim.model.physics included
    "search": ("worldsim.search",),  # below envs: envs may drive a search, a search never builds an env
    "envs": ("worldsim.envs",),
    # Tools may import each other, only without a cycle (`test_no_package_import_cycles`).
    "tools": (
        "worldsim.__main__",
        "worldsim.agents",
        "worldsim.bench",
        "worldsim.cli",
        "worldsim.cli_data",
        "worldsim.cli_model",
        "worldsim.cli_text",
        "worldsim.cli_adapt",
        "worldsim.cli_distill",
        "worldsim.counterfactual",
        "worldsim.dream_demo",
        "worldsim.generate",
        "worldsim.play",
        "worldsim.prompt_eval",
        "worldsim.registration",
        "worldsim.rollout",
    ),
}

# `worldsim/__init__.py` runs before every other module (importing any submodule imports it), so
# an edge to or from it says nothing about layering; it only registers the Gymnasium ids.
EXEMPT = "worldsim"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    path: Path
    line: int
    target: str  # dotted module name, `from pkg import name` resolved to `pkg.name` where that is a module
    top_level: bool  # runs when the importer is imported: not in a function, not under `if TYPE_CHECKING:`


@dataclass(frozen=True)
class Layer:
    rank: int
    name: str
    prefix: str  # the package that collapses the module in the package-level graph


def where(path: Path, line: int) -> str:
    try:
        path = path.relative_to(ROOT)
    except ValueError:
        pass
    return f"{path}:{line}"


def discover(package_dir: Path) -> dict[str, Path | None]:
    """Every module and package under `package_dir` by dotted name; a package without an
    `__init__.py` (a namespace package, like `worldsim.model`) maps to None."""
    base = package_dir.parent
    modules: dict[str, Path | None] = {}
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(base).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
        for i in range(1, len(parts)):
            modules.setdefault(".".join(parts[:i]), None)
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def raw_imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Each import statement with whether it runs at import time of its module."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, top_level))
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            top_level = False
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, top_level)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, top_level)

    visit(tree, True)
    return found


def resolve(importer: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        parts = importer.split(".") if is_package else importer.split(".")[:-1]
        if node.level - 1 > len(parts) - 1:
            return []  # beyond the top-level package: Python refuses it, nothing to check
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


@functools.cache
def scan(package_dir: Path) -> tuple[dict[str, Path | None], tuple[Import, ...]]:
    """The package's modules and every import among them that stays inside the package."""
    known = discover(package_dir)
    package = package_dir.name
    imports: list[Import] = []
    for name, path in known.items():
        if path is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, top_level in raw_imports(tree):
            for target in dict.fromkeys(resolve(name, path.name == "__init__.py", node, known)):
                if target == package or target.startswith(package + "."):
                    imports.append(Import(name, path, node.lineno, target, top_level))
    return known, tuple(imports)


def layer_of(module: str, layers: dict[str, tuple[str, ...]] = LAYERS) -> Layer | None:
    best: Layer | None = None
    for rank, (name, prefixes) in enumerate(layers.items()):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best.prefix)):
                best = Layer(rank, name, prefix)
    return best


def unplaced_modules(package_dir: Path, layers: dict[str, tuple[str, ...]] = LAYERS) -> list[str]:
    known, _ = scan(package_dir)
    return [
        f"{where(path, 1)}: {name} is in no layer; place it in LAYERS in tests/test_layers.py"
        # A namespace package has no file of its own: the modules in it are checked instead.
        for name, path in known.items()
        if path is not None and name != package_dir.name and layer_of(name, layers) is None
    ]


def upward_imports(package_dir: Path, layers: dict[str, tuple[str, ...]] = LAYERS) -> list[str]:
    _, imports = scan(package_dir)
    problems = []
    for imp in imports:
        if package_dir.name in (imp.importer, imp.target):
            continue
        source, target = layer_of(imp.importer, layers), layer_of(imp.target, layers)
        if source is None:
            continue  # reported by unplaced_modules
        if target is None:
            problems.append(
                f"{where(imp.path, imp.line)}: {imp.importer} ({source.name}) imports {imp.target}, which is in no layer"
            )
        elif target.rank > source.rank:
            problems.append(
                f"{where(imp.path, imp.line)}: {imp.importer} ({source.name}, layer {source.rank}) imports "
                f"{imp.target} ({target.name}, layer {target.rank}): upward"
            )
    return problems


def cycles(edges: dict[tuple[str, str], Import]) -> list[list[str]]:
    """One shortest cycle per strongly connected component of more than one node."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)

    found = []
    for component in sorted(components):
        members, start = set(component), component[0]
        previous: dict[str, str] = {}
        frontier = [start]
        while start not in previous:  # breadth first, back to start: the component guarantees a way
            following = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w in members and w not in previous:
                        previous[w] = v
                        following.append(w)
            frontier = following
        path = [start]
        while len(path) == 1 or path[-1] != start:
            path.append(previous[path[-1]])
        found.append(path[::-1])
    return found


def describe(cycle: list[str], edges: dict[tuple[str, str], Import]) -> str:
    steps = [
        f"    {a} -> {b}  ({where(edges[a, b].path, edges[a, b].line)}: imports {edges[a, b].target})"
        for a, b in zip(cycle, cycle[1:])
    ]
    return "cycle " + " -> ".join(cycle) + "\n" + "\n".join(steps)


def module_cycles(package_dir: Path) -> list[str]:
    """Cycles among the imports that run when a module is imported."""
    _, imports = scan(package_dir)
    edges: dict[tuple[str, str], Import] = {}
    for imp in imports:
        if imp.top_level and package_dir.name not in (imp.importer, imp.target) and imp.importer != imp.target:
            edges.setdefault((imp.importer, imp.target), imp)
    return [describe(cycle, edges) for cycle in cycles(edges)]


def package_cycles(package_dir: Path, layers: dict[str, tuple[str, ...]] = LAYERS) -> list[str]:
    """Cycles among the layer packages over every import, lazy ones included: a function-level
    import breaks an import-time cycle, not the dependency."""
    _, imports = scan(package_dir)
    edges: dict[tuple[str, str], Import] = {}
    for imp in imports:
        source, target = layer_of(imp.importer, layers), layer_of(imp.target, layers)
        if source and target and source.prefix != target.prefix:
            edges.setdefault((source.prefix, target.prefix), imp)
    return [describe(cycle, edges) for cycle in cycles(edges)]


def agent_script_problems(agents_dir: Path) -> list[str]:
    """The scripts run as `python agents/x.py`; shared code belongs in the package, where the
    layers above govern it, not in a sibling reached through `sys.path`."""
    scripts = sorted(agents_dir.glob("*.py"))
    names = {path.stem for path in scripts}
    problems: list[tuple[Path, int, str]] = []
    for path in scripts:
        source = path.read_text(encoding="utf-8")
        for node, _ in raw_imports(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                modules = [node.module or ""] if node.level == 0 else [f"{'.' * node.level}{node.module or ''}"]
            for module in modules:
                head = module.split(".")[0]
                if module.startswith(".") or (head in names and head != path.stem):
                    problems.append((path, node.lineno, f"imports the sibling script {module}"))
        for number, text in enumerate(source.splitlines(), 1):
            for call in ("sys.path.insert", "sys.path.append"):
                if call in text:
                    problems.append((path, number, f"modifies sys.path ({call})"))
    return [f"{where(path, line)}: {what}" for path, line, what in sorted(problems)]


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_every_module_is_placed():
    problems = unplaced_modules(PACKAGE_DIR)
    assert not problems, report(problems)


def test_no_upward_imports():
    problems = upward_imports(PACKAGE_DIR)
    assert not problems, report(problems)


def test_no_module_import_cycles():
    problems = module_cycles(PACKAGE_DIR)
    assert not problems, report(problems)


def test_no_package_import_cycles():
    problems = package_cycles(PACKAGE_DIR)
    assert not problems, report(problems)


def test_agent_scripts_stand_alone():
    problems = agent_script_problems(AGENTS_DIR)
    assert not problems, report(problems)


# Synthetic trees the checks must flag (or, for "clean", must pass), so that a checker that
# resolves nothing cannot pass the tests above silently.
CASES = {
    "upward, lazy": (
        {"domains.py": "def f():\n    from worldsim.envs import world\n", "envs/__init__.py": "", "envs/world.py": ""},
        upward_imports,
        "worldsim/domains.py:2: worldsim.domains (base, layer 0) imports worldsim.envs.world (envs, layer 7): upward",
    ),
    "upward, relative": (
        {"data/__init__.py": "from ..model import physics\n", "model/physics/__init__.py": ""},
        upward_imports,
        "worldsim.data (data, layer 4) imports worldsim.model.physics (model, layer 5)",
    ),
    "module cycle": (
        {"play/__init__.py": "", "play/a.py": "from . import b\n", "play/b.py": "import worldsim.play.a\n"},
        module_cycles,
        "cycle worldsim.play.a -> worldsim.play.b -> worldsim.play.a",
    ),
    "package cycle, lazy": (
        {"cli.py": "import worldsim.rollout\n", "rollout.py": "def f():\n    from worldsim import cli\n"},
        package_cycles,
        "cycle worldsim.cli -> worldsim.rollout -> worldsim.cli",
    ),
    "unplaced": ({"planner.py": ""}, unplaced_modules, "worldsim.planner is in no layer"),
    "clean": (
        {
            "__init__.py": "from worldsim.registration import register_envs\n",
            "registration.py": "from worldsim import domains\n",
            "domains.py": "",
            "envs/__init__.py": "from worldsim.envs.world import World\n",
            "envs/world.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from worldsim.envs import World\n",
        },
        lambda d: upward_imports(d) + module_cycles(d) + package_cycles(d) + unplaced_modules(d),
        None,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_checks_catch(tmp_path, case):
    files, check, expected = CASES[case]
    package_dir = tmp_path / "worldsim"
    for name, text in {"__init__.py": "", **files}.items():
        (package_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (package_dir / name).write_text(text)
    problems = check(package_dir)
    if expected is None:
        assert not problems, report(problems)
    else:
        assert any(expected in problem for problem in problems), report(problems)


def test_agent_script_check_catches(tmp_path):
    (tmp_path / "common.py").write_text("import numpy\n")
    (tmp_path / "train.py").write_text("import sys\nsys.path.insert(0, '.')\nfrom common import x\nfrom worldsim.envs import y\n")
    problems = agent_script_problems(tmp_path)
    assert len(problems) == 2, report(problems)
    assert any("train.py:2" in p and "sys.path" in p for p in problems), report(problems)
    assert any("train.py:3" in p and "imports the sibling script common" in p for p in problems), report(problems)
