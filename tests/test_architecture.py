"""The project's import graph: no cycles (late imports inside functions included),
and the layers import only downwards (model <- app; within each, see FORBIDDEN).

The layers of app, each importing only those before it:

    app.nouns     the shared nouns (Detection, Frame, Marker): model.runtime.emotions only
    app.io        reading sources, writing files, sending feeds
    app.core      the pipeline and the playback loop that reads a source (core <- io:
                  the playback opens io's sources; io takes no part of the pipeline)
    app.report    the report, read back from the files
    app.commands  process, batch, bench and their options; app.cli, app.parser
    app.gui       the window

model.training (TensorFlow, the data sets) is for the training and evaluation
commands: neither the pipeline nor its inputs and outputs nor the report import it.
"""

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
            # `from pkg import mod` runs pkg (its __init__) and imports pkg.mod
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
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
    assert len(graph) > 20 and graph["app.core.pipeline"] >= {"app.core.detect",
                                                              "model.runtime.classifier"}
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


LEAVES = ("model.runtime.emotions", "model.runtime.errors", "model.runtime.atomic",
          "model.runtime.image_files")  # import nothing of the project
# (importer's package, package it must not import): the layers import only downwards
FORBIDDEN = (("model", "app"), ("model.runtime", "model.training"),
             ("app.nouns", "app"), ("app.nouns", "model.training"),
             ("app.io", "app.core"), ("app.io", "app.report"), ("app.io", "model.training"),
             ("app.io", "app.commands"), ("app.io", "app.gui"), ("app.io", "app.cli"),
             ("app.core", "app.report"), ("app.core", "model.training"),
             ("app.core", "app.commands"), ("app.core", "app.gui"), ("app.core", "app.cli"),
             ("app.report", "model.training"),
             ("app.report", "app.commands"), ("app.report", "app.gui"), ("app.report", "app.cli"),
             ("app.commands", "app.gui"))
NOUNS = {"Detection", "Frame", "Marker"}   # defined once, in app.nouns


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_layers_import_only_downwards():
    """model <- app, model.runtime <- model.training; within app the layers of the
    module doc; the leaves that every layer uses (the class names, the errors, atomic
    writes) import nothing of the project."""
    graph = import_graph()
    upward = {(m, t) for m, ts in graph.items() for t in ts
              if m in LEAVES or any(_within(m, a) and _within(t, b) for a, b in FORBIDDEN)}
    assert not upward
    assert "model.runtime.errors" in graph["app.io.frame_source"]
    assert "model.runtime.errors" in graph["model.training.data"]
    assert "app.io.sources" in graph["app.core.playback"]          # core <- io


def test_the_nouns_are_defined_once_below_every_layer():
    """Detection, Frame and Marker are app.nouns' classes, and every layer that names
    one takes it from there."""
    modules = project_modules()
    defined = {(name, node.name) for name, path in modules.items()
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef) and node.name in NOUNS}
    assert defined == {("app.nouns", noun) for noun in NOUNS}
    graph = import_graph()
    for user in ("app.core.pipeline", "app.core.playback", "app.gui.packets",
                 "app.gui.markers"):
        assert "app.nouns" in graph[user], user


def test_the_layer_checker_sees_an_upward_import():
    assert any(_within("app.core.pipeline", a) and _within("app.gui.window", b)
               for a, b in FORBIDDEN)
    assert not any(_within("app.gui.window", a) and _within("app.core.pipeline", b)
                   for a, b in FORBIDDEN)


def test_the_folder_listing_shows_the_layers():
    """Each layer is a package; few modules loose at the top of app/, none too long
    to read (a module over 500 lines holds more than one job)."""
    loose = sorted(p.name for p in (REPO / "app").glob("*.py"))
    assert len(loose) <= 8, loose
    for package in ("app/core", "app/io", "app/commands", "app/gui", "model/runtime",
                    "model/training"):
        assert (REPO / package / "__init__.py").is_file(), package
    long = {str(f.relative_to(REPO)): n for pkg in PACKAGES for f in (REPO / pkg).rglob("*.py")
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long
    # the README is read in five minutes: the reference lives in docs/
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 300
