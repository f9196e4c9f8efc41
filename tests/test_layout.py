"""The package's shape stays readable: small modules, classes and functions, layered imports.

Every module of ``skfold`` sits in one layer (README's "Layout"); a module imports only from its
own layer or below, and the imports form no cycle.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "skfold"
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300  # docstrings aside
MAX_FUNCTION_LINES = 60  # docstring aside

#: Top to bottom. A name ending in ".*" stands for a package and its modules.
LAYERS = [
    ["skfold", "skfold.persistence.*", "skfold.plotting.*"],
    ["skfold._estimators"],
    ["skfold._base"],
    ["skfold._validation", "skfold.explain", "skfold.explain_pipeline", "skfold._docs"],
    ["skfold.fit_loop", "skfold.fit_warnings"],
    ["skfold.stream"],
    ["skfold.fit_setup", "skfold.divergence"],
    ["skfold.growth", "skfold.fit_state", "skfold.history", "skfold.selection"],
    ["skfold.folding.*"],
    ["skfold.training", "skfold.lbfgs", "skfold.objective", "skfold.numpy_objective",
     "skfold.optimizers", "skfold.network", "skfold.linear_seed"],
    ["skfold.tasks", "skfold.schedule", "skfold._threads", "skfold._device", "skfold.datasets",
     "skfold.sparse_rows", "skfold.unit_table", "skfold.reservoir"],
]


def _modules():
    """``{module name: path}`` of every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _layer_of(module):
    for depth, layer in enumerate(LAYERS):
        for name in layer:
            if module == name or (name.endswith(".*") and (
                    module == name[:-2] or module.startswith(name[:-1]))):
                return depth
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py: place it")


def _imports(module, path):
    """The skfold modules ``module`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if node.module:  # "from . import x" depends on x, not on the package itself
                names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    known = _modules()
    return {name for name in names if name in known and name != module}


def _code_lines(node):
    """Lines of a definition, its docstrings (and those of what it defines) left out."""
    lines = node.end_lineno - node.lineno + 1
    for inner in ast.walk(node):
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = inner.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None),
                                                          ast.Constant):
                if isinstance(first.value.value, str):
                    lines -= first.end_lineno - first.lineno + 1
    return lines


@pytest.mark.parametrize("module", sorted(_modules()))
def test_modules_classes_and_functions_are_small(module):
    path = _modules()[module]
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path} is over {MAX_MODULE_LINES}"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            assert _code_lines(node) <= MAX_CLASS_LINES, f"class {node.name} of {path}"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert _code_lines(node) <= MAX_FUNCTION_LINES, f"{node.name} of {path}"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_a_module_imports_only_from_its_layer_or_below(module):
    layer = _layer_of(module)
    above = {name for name in _imports(module, _modules()[module]) if _layer_of(name) < layer}
    assert not above, f"{module} imports {sorted(above)}, which stand above it"


def test_the_imports_form_no_cycle():
    graph = {module: _imports(module, path) for module, path in _modules().items()}
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for name in graph[module]:
            if state.get(name) == "open":
                raise AssertionError(" -> ".join(trail + [module, name]))
            if name not in state:
                visit(name, trail + [module])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [])
