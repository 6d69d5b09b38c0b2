"""The package's shape: layers import one way, no module reads another's private attributes.

Checked on the source text (``ast``), so they hold for imports inside functions too. The layers
and their rules are described in ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "nnviz_widgets"

#: Which top-level parts of the package each part may import (itself always). ``__init__`` and
#: the widgets sit on top; torch-free parts never reach ``record``.
ALLOWED = {
    "threads": set(),
    "training": {"threads"},
    "recording": {"threads", "store", "diagnosis"},
    "store": {"threads", "recording"},
    "record": {"threads", "recording", "store"},
    "diagnosis": {"threads", "recording"},
    "render": set(),
    "views": {"render"},
    "datasets": set(),
    "models": set(),
    "integrations": {"threads", "recording", "record"},
    "understand": set(),
    "widgets": {
        "threads", "training", "recording", "record", "render", "views", "datasets", "diagnosis",
        "understand",
    },
}  # fmt: skip
#: Parts that must never import torch (a recording opens and shows where torch is absent).
TORCH_FREE = ("threads", "training", "recording", "store", "diagnosis", "render", "views")


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: pathlib.Path) -> set[str]:
    """Every module of the package (or outside it) that ``name`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            submodules = {f"{module}.{alias.name}" for alias in node.names} & set(MODULES)
            found |= submodules  # "from package import submodule" imports that submodule
            if len(submodules) < len(node.names):
                found.add(module)
    return found


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def _graph() -> dict[str, set[str]]:
    """Module -> the modules it imports; importing a package means importing what its
    ``__init__`` imports (re-exports), so packages are looked through."""
    direct = {
        name: {m for m in _imports(name, path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }

    def through(module: str, seen: frozenset = frozenset()) -> set[str]:
        if MODULES[module].name != "__init__.py":
            return {module}
        found = set()
        for target in direct[module] - seen:
            found |= through(target, seen | {module})
        return found

    return {
        name: {t for m in targets for t in through(m)} - {name}
        for name, targets in direct.items()
        if MODULES[name].name != "__init__.py"
    }


def test_no_import_cycle_between_modules():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_each_part_imports_only_the_layers_below_it():
    wrong = []
    for name, path in MODULES.items():
        part = _part(name)
        if part not in ALLOWED:
            continue  # the package's own __init__
        for module in _imports(name, path):
            target = _part(module) if module.startswith("nnviz_widgets.") else None
            if target and target != part and target not in ALLOWED[part]:
                wrong.append(f"{name} imports {module}")
            if part in TORCH_FREE and module.split(".")[0] == "torch":
                wrong.append(f"{name} imports torch")
    assert not wrong, "\n".join(wrong)


def _own_private_names(tree: ast.AST) -> set[str]:
    """Private names this module defines: its functions, classes, their methods and fields."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return {n for n in names if n.startswith("_")}


def _foreign_roots(tree: ast.AST) -> set[str]:
    """Names bound to modules from outside the package (torch, numpy, ...)."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("nnviz_widgets"):
                    roots.add(alias.asname or alias.name.split(".")[0])
        elif (
            isinstance(node, ast.ImportFrom)
            and not node.level
            and not (node.module or "").startswith("nnviz_widgets")
        ):
            roots.update(alias.asname or alias.name for alias in node.names)
    return roots


def test_no_module_reads_another_modules_private_attributes():
    wrong = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        own, foreign = _own_private_names(tree), _foreign_roots(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nnviz"):
                wrong += [
                    f"{name} imports {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                continue
            if isinstance(value, ast.Call) and ast.unparse(value.func) == "super":
                continue
            if isinstance(value, ast.Name) and attr in own:
                continue  # an object of a class of this module, held in a local name
            root = value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in foreign:
                continue  # a library's own internals (torch._foreach_norm, ...): not ours
            wrong.append(f"{name}:{node.lineno} reads .{attr} of {ast.unparse(node.value)}")
    assert not wrong, "\n".join(wrong)


#: numpy functions that hand the work to BLAS (OpenBLAS here): its threads keep spinning after
#: each call and slow torch's on the same cores (docs/architecture.md, "Facts the code relies on")
BLAS_CALLS = {"dot", "vdot", "inner", "matmul", "tensordot", "outer_product", "linalg", "kron"}


def test_no_module_calls_numpy_blas():
    wrong = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            line = f"{name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.MatMult):
                wrong.append(f"{line} uses @")
            if isinstance(node, ast.Attribute) and node.attr in BLAS_CALLS:
                root = node.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if not (isinstance(root, ast.Name) and root.id == "torch"):  # torch's own pool
                    wrong.append(f"{line} calls .{node.attr}")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("einsum"):
                optimize = [k for k in node.keywords if k.arg == "optimize"]
                if optimize:  # einsum's optimized paths go through tensordot
                    wrong.append(f"{line} einsum with optimize=")
    assert not wrong, "use np.einsum (no optimize=) or ufuncs instead of BLAS: " + "; ".join(wrong)


def test_no_two_test_files_share_a_name():
    """pytest imports test files without packages by their bare name: two ``test_x.py`` in
    different folders make the whole suite fail at collection."""
    tests = pathlib.Path(__file__).resolve().parent
    names = [path.name for path in tests.rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
