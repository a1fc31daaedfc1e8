"""The project's import graph: no cycles (late imports inside functions included),
and the layers import only downwards (model <- app)."""

import ast

from tests.conftest import REPO

PACKAGES = ("app", "model")


def _module_name(path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict:
    files = [REPO / "main.py"] + [f for pkg in PACKAGES for f in (REPO / pkg).rglob("*.py")]
    return {_module_name(f): f for f in files}


def imports_of(name: str, path, known: set) -> set:
    """Project modules that `name` imports anywhere in its file (functions included)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports pkg.mod when that is a module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def import_graph() -> dict:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict):
    """One cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 20 and graph["app.core.pipeline"] >= {"app.core.detect", "model.runtime.classifier"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_late_import_cycle(tmp_path):
    """The checker itself: a cycle closed by an import inside a function is found."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from a import x\n")
    known = {"a", "b"}
    graph = {n: imports_of(n, tmp_path / f"{n}.py", known) for n in known}
    assert find_cycle(graph) in (["a", "b", "a"], ["b", "a", "b"])
    assert find_cycle({"a": {"b"}, "b": set()}) is None


LEAVES = ("model.runtime.emotions", "model.runtime.errors", "model.runtime.atomic")  # import nothing of the project


def test_the_layers_import_only_downwards():
    """model <- app: the model never imports the app; the leaves that every layer
    uses (the class names, the errors, atomic writes) import nothing of the project."""
    graph = import_graph()
    upward = {(m, t) for m, ts in graph.items() for t in ts
              if (m.startswith("model") and t.startswith("app")) or m in LEAVES}
    assert not upward
    assert "model.runtime.errors" in graph["app.io.sources"] and "model.runtime.errors" in graph["model.training.data"]
