"""The layering rules of DESIGN.md ("Layers: imports only go down"), checked on the source.

Pure ``ast``: nothing of ``ladderforge`` is imported, no media, no subprocess; the whole file runs
in a fraction of a second. Every module under ``ladderforge/`` is read. Each rule collects all of
its violations and fails once with the full list, one ``module:line ...`` per line.

Rules:

- imports only go down the layers (faces > executors > orchestration > policy > stages >
  foundation), with two tightenings: policy imports no stage (it receives facts as plain data),
  and a stage imports another stage only along an edge listed in :data:`ALLOWED_STAGE_EDGES`;
- every top-level module of the package is placed in a layer (:data:`LAYER_OF`);
- only the faces print, touch ``sys.stdout``/``sys.stderr`` or exit the process.

What counts as an import: ``import``/``from ... import`` anywhere in the module (module level,
inside functions, inside ``if TYPE_CHECKING:``), relative imports resolved to absolute names, and
``importlib.import_module(...)``/``__import__(...)`` called with a literal module name.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "ladderforge"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

# The layers, top to bottom.
FACES = "faces"
EXECUTORS = "executors"
ORCHESTRATION = "orchestration"
POLICY = "policy"
STAGES = "stages"
FOUNDATION = "foundation"
LAYERS = (FACES, EXECUTORS, ORCHESTRATION, POLICY, STAGES, FOUNDATION)

# Top-level name under ``ladderforge`` (module or subpackage) -> its layer. A new top-level module
# must be added here: the test "every-module-has-a-layer" fails until it is.
LAYER_OF: dict[str, str] = {
    "_cli": FACES,
    "dashboard": FACES,
    "__main__": FACES,
    "run": EXECUTORS,
    "jobs": ORCHESTRATION,
    "policy": POLICY,
    "analysis": STAGES,
    "encoder": STAGES,
    "vmaf_tools": STAGES,
    "enhance": STAGES,
    "media": FOUNDATION,
    "store": FOUNDATION,
    "types": FOUNDATION,
    "errors": FOUNDATION,
    "demo_media": FOUNDATION,
    "schemas": FOUNDATION,  # JSON Schemas shipped as data
}

# Which layers a layer may import from. Down only; policy and the stages are both "below the
# orchestration" but independent of each other: policy decides on plain data and must be testable
# on recorded tables without any stage, and the stages never consult policy.
MAY_IMPORT: dict[str, frozenset[str]] = {
    FACES: frozenset(LAYERS),
    EXECUTORS: frozenset({EXECUTORS, ORCHESTRATION, POLICY, STAGES, FOUNDATION}),
    ORCHESTRATION: frozenset({ORCHESTRATION, POLICY, STAGES, FOUNDATION}),
    POLICY: frozenset({POLICY, FOUNDATION}),
    STAGES: frozenset({STAGES, FOUNDATION}),
    FOUNDATION: frozenset({FOUNDATION}),
}

# Stage -> stage imports that are allowed (importer, imported). Any other edge between two
# different stages fails, so a new one is a deliberate change to this table.
ALLOWED_STAGE_EDGES: frozenset[tuple[str, str]] = frozenset(
    {
        # enhance/data.py makes its training pairs by encoding the clean sources with a real
        # encoder backend: the artefacts to learn are the encoder's own, not re-implemented.
        ("enhance", "encoder"),
        # enhance/evaluate.py judges the enhancement with real VMAF (never re-implemented). If that
        # evaluation moves up into the orchestration tier, remove this edge.
        ("enhance", "vmaf_tools"),
    }
)

# The public face may re-export from any layer; ``python -m ladderforge`` only starts the CLI.
EXEMPT = frozenset({PACKAGE, f"{PACKAGE}.__main__"})

Violations = list[str]


# ---------------------------------------------------------------------------------------------
# Reading the package


@cache
def package_modules() -> tuple[tuple[str, bool, str], ...]:
    """(module name, is a package ``__init__``, source) for every module under ``ladderforge/``."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        if "__pycache__" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found.append((".".join(parts), rel.name == "__init__", path.read_text(encoding="utf-8")))
    return tuple(found)


@cache
def known_modules() -> frozenset[str]:
    return frozenset(name for name, _, _ in package_modules())


@cache
def parsed(module: str, source: str) -> ast.Module:
    return ast.parse(source, filename=module)


def top_name(module: str) -> str | None:
    """``ladderforge.policy.cost`` -> ``policy``; None for the package root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_of(module: str) -> str | None:
    """The layer of a module of the package, None when its top-level name is in no layer.

    The package root counts as a face: it may re-export from any layer, so importing a name from
    it (rather than from the module that defines it) may import anything.
    """
    top = top_name(module)
    return FACES if top is None else LAYER_OF.get(top)


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _resolve_relative(name: str, level: int, package: str) -> str:
    """``from ..x import y`` inside package ``package`` -> the absolute module name."""
    base = package.split(".")
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, name] if name else base)


def _import_module_target(call: ast.Call, package: str) -> str | None:
    """The literal module name of ``importlib.import_module(...)``/``__import__(...)``, if any."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not call.args:
        return None
    first = call.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None  # computed names (e.g. enhance/__init__.py's lazy table) cannot be checked
    target = first.value
    if name == "import_module" and target.startswith("."):
        anchor: ast.expr | None = call.args[1] if len(call.args) > 1 else None
        anchor = next((k.value for k in call.keywords if k.arg == "package"), anchor)
        if isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
            anchor_package = anchor.value
        elif isinstance(anchor, ast.Name) and anchor.id == "__package__":
            anchor_package = package
        else:
            return None
        level = len(target) - len(target.lstrip("."))
        target = _resolve_relative(target.lstrip("."), level, anchor_package)
    return target


def imports_of(
    module: str, source: str, *, is_package: bool = False, known: frozenset[str] = frozenset()
) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import of a ``ladderforge`` module in ``source``.

    ``ast.walk`` visits the whole tree, so lazy imports inside functions and imports under
    ``if TYPE_CHECKING:`` count. Counting the latter is a choice: a type-only import still says
    which way the dependency points, and it becomes a real import the day someone needs the name
    at run time.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(parsed(module, source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _resolve_relative(base, node.level, package)
            if not _ours(base):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in known or (base == PACKAGE and alias.name in LAYER_OF):
                    yield node.lineno, submodule
                elif base == PACKAGE and alias.name.startswith("__"):
                    continue  # package metadata (``__version__``), not a re-export
                else:
                    yield node.lineno, base
        elif isinstance(node, ast.Call):
            target = _import_module_target(node, package)
            if target is not None:
                yield node.lineno, target


# ---------------------------------------------------------------------------------------------
# The rules, on one module


def import_violations(
    module: str, source: str, *, is_package: bool = False, known: frozenset[str] = frozenset()
) -> Violations:
    """``module:line imports X (layer A -> layer B)`` for each import that goes the wrong way."""
    src_layer = layer_of(module)
    if module in EXEMPT or src_layer is None:
        return []  # unplaced modules are reported by the "every-module-has-a-layer" rule
    out: Violations = []
    seen: set[tuple[int, str]] = set()
    for line, target in imports_of(module, source, is_package=is_package, known=known):
        if not _ours(target) or (line, target) in seen:
            continue
        seen.add((line, target))
        dst_layer = layer_of(target)
        where = f"{module}:{line} imports {target}"
        if dst_layer is None:
            out.append(f"{where} ({src_layer} -> no layer: place {target} in LAYER_OF)")
        elif dst_layer not in MAY_IMPORT[src_layer]:
            hint = " (import from the defining module)" if target == PACKAGE else ""
            out.append(f"{where} ({src_layer} -> {dst_layer}){hint}")
        elif src_layer == dst_layer == STAGES:
            edge = (top_name(module), top_name(target))
            if edge[0] != edge[1] and edge not in ALLOWED_STAGE_EDGES:
                out.append(
                    f"{where} ({STAGES} -> {STAGES}: {edge[0]} -> {edge[1]} is not in "
                    "ALLOWED_STAGE_EDGES)"
                )
    return out


_STREAMS = frozenset({"stdout", "stderr", "__stdout__", "__stderr__"})
_EXITS = frozenset({"exit", "quit"})


def _output_finding(node: ast.AST) -> str | None:
    """What ``node`` does that only a face may do, or None."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("print", "pprint"):
            return f"calls {func.id}()"
        if isinstance(func, ast.Name) and func.id in _EXITS:
            return f"calls {func.id}()"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            dotted = f"{func.value.id}.{func.attr}"
            if dotted in ("builtins.print", "pprint.pprint", "pprint.pp", "sys.exit", "os._exit"):
                return f"calls {dotted}()"
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        # Any use of the process streams, not only ``.write``: handing ``sys.stderr`` to a
        # handler or to ``print(file=...)`` writes to it just the same.
        if node.value.id == "sys" and node.attr in _STREAMS:
            return f"uses sys.{node.attr}"
    elif isinstance(node, ast.ImportFrom) and node.module == "sys" and not node.level:
        names = sorted(a.name for a in node.names if a.name in _STREAMS | {"exit"})
        if names:
            return f"imports {', '.join(names)} from sys"
    elif isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id == "SystemExit":
            return "raises SystemExit"
    return None


def output_violations(module: str, source: str) -> Violations:
    """``module:line calls print() (layer)`` for every print, console write or exit below the
    faces, ``if __name__ == "__main__":`` blocks included (such entry points belong to the CLI)."""
    layer = layer_of(module)
    if module in EXEMPT or layer in (FACES, None):
        return []
    out = []
    for node in ast.walk(parsed(module, source)):
        finding = _output_finding(node)
        if finding:
            line = getattr(node, "lineno", 0)
            out.append(
                f"{module}:{line} {finding} ({layer}: only the faces print, write to the "
                "console or exit; return values, log or take a callback)"
            )
    return out


def unplaced(modules: list[str]) -> Violations:
    """A message for each top-level module of the package that is in no layer."""
    tops = sorted({t for m in modules if (t := top_name(m)) is not None and t not in LAYER_OF})
    return [
        f"{PACKAGE}.{t} is in no layer: add {t!r} to LAYER_OF in tests/test_layering.py "
        f"(one of {', '.join(LAYERS)})"
        for t in tops
    ]


# ---------------------------------------------------------------------------------------------
# The rules, on the whole package


def _sorted(found: Violations) -> Violations:
    def key(message: str) -> tuple[str, int]:
        module, _, rest = message.partition(":")
        line = rest.split(" ", 1)[0]
        return module, int(line) if line.isdigit() else 0

    return sorted(found, key=key)


def tree_import_violations() -> Violations:
    known = known_modules()
    return _sorted(
        [
            v
            for name, is_package, source in package_modules()
            for v in import_violations(name, source, is_package=is_package, known=known)
        ]
    )


def tree_output_violations() -> Violations:
    return _sorted(
        [v for name, _, source in package_modules() for v in output_violations(name, source)]
    )


def tree_unplaced() -> Violations:
    return unplaced([name for name, _, _ in package_modules()])


LAYERS_DOC = "DESIGN.md, 'Layers: imports only go down'"
RULES: dict[str, tuple[Callable[[], Violations], str]] = {
    "imports-go-down": (tree_import_violations, LAYERS_DOC),
    "every-module-has-a-layer": (tree_unplaced, LAYERS_DOC),
    "only-faces-print-or-exit": (tree_output_violations, "STYLE.md, habit 8"),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_layering(rule: str) -> None:
    check, doc = RULES[rule]
    found = check()
    if found:
        pytest.fail(
            f"{len(found)} violation(s) of {rule!r} ({doc}):\n" + "\n".join(found),
            pytrace=False,
        )


# ---------------------------------------------------------------------------------------------
# The checker on itself: it must see the package, and it must catch each kind of violation.


def test_the_package_is_read() -> None:
    names = known_modules()
    assert len(names) >= 30
    assert {f"{PACKAGE}.policy.hull", f"{PACKAGE}.errors", f"{PACKAGE}.encoder"} <= names
    assert all(layer in LAYERS for layer in LAYER_OF.values())
    # The table only ever lets a layer import itself or a layer below it.
    for src, allowed in MAY_IMPORT.items():
        assert all(LAYERS.index(dst) >= LAYERS.index(src) for dst in allowed), src
    assert all(LAYER_OF[a] == LAYER_OF[b] == STAGES for a, b in ALLOWED_STAGE_EDGES)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "ladderforge.policy.cost",
            "from ladderforge.encoder import x\n",
            "ladderforge.policy.cost:1 imports ladderforge.encoder (policy -> stages)",
        ),
        (
            "ladderforge.policy.cost",
            "def f():\n    from ..encoder.software import X\n",
            "ladderforge.policy.cost:2 imports ladderforge.encoder.software (policy -> stages)",
        ),
        (
            "ladderforge.policy.cost",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ladderforge.jobs\n",
            "ladderforge.policy.cost:3 imports ladderforge.jobs (policy -> orchestration)",
        ),
        (
            "ladderforge.media.probe",
            "import importlib\nm = importlib.import_module('ladderforge.policy.hull')\n",
            "ladderforge.media.probe:2 imports ladderforge.policy.hull (foundation -> policy)",
        ),
        (
            "ladderforge.encoder.run",
            "from importlib import import_module\nimport_module('.jobs', package='ladderforge')\n",
            "ladderforge.encoder.run:2 imports ladderforge.jobs (stages -> orchestration)",
        ),
        (
            "ladderforge.analysis.engine",
            "from ladderforge.encoder import encode\n",
            "ladderforge.analysis.engine:1 imports ladderforge.encoder (stages -> stages: "
            "analysis -> encoder is not in ALLOWED_STAGE_EDGES)",
        ),
        (
            "ladderforge.jobs.title",
            "from ladderforge import LadderforgeError\n",
            "ladderforge.jobs.title:1 imports ladderforge (orchestration -> faces)",
        ),
        (
            "ladderforge.jobs.title",
            "from ladderforge.nowhere import thing\n",
            "ladderforge.jobs.title:1 imports ladderforge.nowhere (orchestration -> no layer",
        ),
    ],
)
def test_import_checker_catches(module: str, source: str, expected: str) -> None:
    found = import_violations(module, source)
    assert len(found) == 1, found
    assert found[0].startswith(expected)


def test_import_checker_allows() -> None:
    source = (
        "from ladderforge.encoder import encode\n"  # an allowed stage edge
        "from ladderforge.vmaf_tools import measure\n"  # an allowed stage edge
        "from . import presets\n"  # the same stage
        "from ladderforge.errors import UsageError\n"  # foundation
        "from ladderforge import __version__\n"  # package metadata
        "import importlib\nimportlib.import_module(name)\n"  # computed: not checked
        "import os, numpy\n"  # not ours
    )
    assert import_violations("ladderforge.enhance.data", source, is_package=False) == []
    assert import_violations("ladderforge._cli.main", "import ladderforge.jobs.batch\n") == []
    assert import_violations("ladderforge", "from ladderforge.jobs import plan\n") == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("if __name__ == '__main__':\n    print('hi')\n", ":2 calls print()"),
        ("import sys\ndef f():\n    sys.exit(2)\n", ":3 calls sys.exit()"),
        ("import sys\nsys.stderr.write('x')\n", ":2 uses sys.stderr"),
        ("def f():\n    exit(1)\n", ":2 calls exit()"),
        ("def f():\n    raise SystemExit(1)\n", ":2 raises SystemExit"),
        ("from sys import stdout\n", ":1 imports stdout from sys"),
    ],
)
def test_output_checker_catches(source: str, expected: str) -> None:
    found = output_violations("ladderforge.policy.hull", source)
    assert len(found) == 1, found
    assert found[0].startswith(f"ladderforge.policy.hull{expected} (policy: ")


def test_output_checker_allows_the_faces() -> None:
    source = "import sys\nprint('x')\nsys.exit(1)\n"
    assert output_violations("ladderforge._cli.main", source) == []
    assert output_violations("ladderforge.dashboard.report", source) == []


def test_unplaced_module_is_reported() -> None:
    found = unplaced(["ladderforge.policy.hull", "ladderforge.gizmo", "ladderforge.gizmo.parts"])
    assert found == [
        "ladderforge.gizmo is in no layer: add 'gizmo' to LAYER_OF in tests/test_layering.py "
        "(one of faces, executors, orchestration, policy, stages, foundation)"
    ]
