"""The compat interface: every supported compat module provides :class:`CompatLayer`, and
every name the package reaches through ``compat.get()`` is declared there.

The source scan reads ``deepface_batch/`` (and, for completeness, ``tests/``,
``benchmarks/``, ``examples/``) with :mod:`ast`: a name bound to ``compat.get()`` in a
function (or an enclosing one), then ``NAME.attr`` or ``getattr(NAME, "attr")``, or
``compat.get().attr`` directly. Calls found that way are also bound to the Protocol's
signature, so a call site passing an argument the interface does not declare fails here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deepface_batch import compat
from deepface_batch.compat import CompatLayer

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "deepface_batch"
#: where uses of compat.get() are looked for; the package is the one that must exist
SCANNED = [PACKAGE, ROOT / "tests", ROOT / "benchmarks", ROOT / "examples", ROOT / "src-hook"]


# -- the Protocol's members ----------------------------------------------------------------
def constants() -> dict[str, Any]:
    """The Protocol's data members and their (resolved) types."""
    return typing.get_type_hints(CompatLayer)


def functions() -> dict[str, Callable[..., Any]]:
    """The Protocol's function members (as declared, with ``self``)."""
    return {
        name: value
        for name, value in vars(CompatLayer).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


def members() -> set[str]:
    return set(constants()) | set(functions())


def test_protocol_declares_the_interface():
    """The Protocol is not empty and each member has its one-line docstring (a data
    member's is the string literal after its annotation)."""
    assert {"VERSION", "DETECTORS", "finish", "represent_entry"} <= members()
    assert len(members()) >= 19
    for name, function in functions().items():
        assert (function.__doc__ or "").strip(), f"CompatLayer.{name} has no docstring"
    source = ast.parse(inspect.getsource(CompatLayer))
    body = source.body[0].body  # type: ignore[attr-defined]
    documented = {
        stmt.target.id
        for stmt, after in zip(body, body[1:])
        if isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
    }
    assert set(constants()) == documented


# -- conformance of a module ---------------------------------------------------------------
def _type_problems(name: str, value: Any, hint: Any) -> list[str]:
    origin = typing.get_origin(hint) or hint
    if origin is Any:
        return []
    if not isinstance(value, origin):
        return [f"{name} is a {type(value).__name__}, the Protocol declares {hint}"]
    args = typing.get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and args[0] is not Any:
        wrong = [item for item in value if not isinstance(item, args[0])]
        if wrong:
            return [f"{name} holds {wrong[:3]}, not {args[0].__name__}"]
    if origin is dict and args and args[0] is not Any:
        wrong = [key for key in value if not isinstance(key, args[0])]
        if wrong:
            return [f"{name} has keys {wrong[:3]}, not {args[0].__name__}"]
    return []


def signature_problems(name: str, declared: Callable[..., Any], actual: Any) -> list[str]:
    """Why ``actual`` cannot be called as the Protocol declares ``declared`` (no ``self``).

    Every declared parameter must be accepted the same way (same name, same position for a
    positional one, ``*args``/``**kwargs`` where declared), with the same default where
    one is declared; a parameter ``actual`` adds must have a default.
    """
    try:
        have = inspect.signature(actual)
    except (TypeError, ValueError) as err:
        return [f"{name}: no signature ({err})"]
    want = list(inspect.signature(declared).parameters.values())[1:]  # self
    params = list(have.parameters.values())
    by_name = have.parameters
    kinds = {p.kind for p in params}
    problems = []
    for index, param in enumerate(want):
        where = f"{name}({param.name})"
        if param.kind is param.VAR_KEYWORD:
            if param.VAR_KEYWORD not in kinds:
                problems.append(f"{where}: takes no **kwargs")
            continue
        if param.kind is param.VAR_POSITIONAL:
            if param.VAR_POSITIONAL not in kinds:
                problems.append(f"{where}: takes no *args")
            continue
        got = by_name.get(param.name)
        if got is None:
            problems.append(f"{where}: no parameter of that name")
            continue
        if param.kind is param.POSITIONAL_OR_KEYWORD:
            if got.kind is not got.POSITIONAL_OR_KEYWORD:
                problems.append(f"{where}: is {got.kind.description}, not positional or keyword")
            elif params.index(got) != index:
                problems.append(f"{where}: at position {params.index(got)}, not {index}")
        elif got.kind not in (got.POSITIONAL_OR_KEYWORD, got.KEYWORD_ONLY):
            problems.append(f"{where}: is {got.kind.description}, not keyword")
        if param.default is not param.empty:
            if got.default is got.empty:
                problems.append(f"{where}: no default, the Protocol's is {param.default!r}")
            elif got.default != param.default:
                problems.append(f"{where}: default {got.default!r}, the Protocol's {param.default!r}")
    declared_names = {p.name for p in want}
    for param in params:
        if param.name in declared_names or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty:
            problems.append(f"{name}({param.name}): required, and not in the Protocol")
    return problems


def conformance_problems(module: Any) -> list[str]:
    """Why ``module`` does not provide :class:`CompatLayer`; empty when it does."""
    problems = []
    for name, hint in constants().items():
        if not hasattr(module, name):
            problems.append(f"{name}: missing")
            continue
        value = getattr(module, name)
        if callable(value) and (typing.get_origin(hint) or hint) is not type:  # a class is callable
            problems.append(f"{name}: callable, the Protocol declares a constant ({hint})")
            continue
        problems += _type_problems(name, value, hint)
    for name, declared in functions().items():
        if not hasattr(module, name):
            problems.append(f"{name}: missing")
            continue
        value = getattr(module, name)
        if not callable(value):
            problems.append(f"{name}: a {type(value).__name__}, the Protocol declares a function")
            continue
        problems += signature_problems(name, declared, value)
    return problems


@pytest.mark.parametrize("version, path", sorted(compat.SUPPORTED.items()))
def test_supported_module_provides_the_protocol(version, path):
    """Each module of SUPPORTED that imports beside the installed deepface (0.0.103's
    imports 0.0.101's and 0.0.100's too; 0.0.100's lacks ``backend_utils``); its VERSION
    is checked where its own release is installed."""
    try:
        module = importlib.import_module(path)
    except ImportError as err:
        pytest.skip(f"{path} does not import beside deepface {compat.installed_version()}: {err}")
    assert conformance_problems(module) == []
    assert version in module.RELEASES
    if version == compat.installed_version():
        assert module.VERSION == version


def test_get_returns_the_installed_module():
    installed = compat.installed_version()
    if installed not in compat.SUPPORTED:
        pytest.skip(f"deepface {installed} is not supported")
    layer = compat.get()
    assert layer is importlib.import_module(compat.SUPPORTED[installed])
    assert layer.VERSION == installed


def test_absent_targets_are_the_targets_the_installed_release_lacks():
    """patching skips a target attribute the installed deepface does not have; the compat
    layer declares which those are, so a misspelt target cannot be skipped unseen."""
    from deepface_batch import patching

    missing = {
        f"{module}:{attribute}"
        for module, attributes in patching.TARGETS.items()
        for attribute in attributes
        if not hasattr(importlib.import_module(module), attribute)
    }
    assert missing == compat.get().ABSENT_TARGETS


def test_conformance_check_catches_a_broken_module():
    """The checks above can fail: a module missing a member, a constant of another type,
    a function renaming, reordering or dropping a parameter, or changing a default."""
    installed = compat.installed_version()
    if installed not in compat.SUPPORTED:
        pytest.skip(f"deepface {installed} is not supported")
    good = importlib.import_module(compat.SUPPORTED[installed])
    broken = types.ModuleType("broken")
    broken.__dict__.update({name: getattr(good, name) for name in members()})
    assert conformance_problems(broken) == []

    del broken.represent_entry
    broken.VERSION = 103
    broken.DETECTORS = ("opencv", 1)
    broken.REPRESENT_DEFAULTS = lambda: {}
    broken.add_border = lambda image, align: None  # renamed
    broken.clamp_expand_percentage = lambda: 0  # dropped
    broken.represent_select = lambda img_objs, anti_spoofing, max_faces: img_objs  # reordered
    broken.finish = lambda img, img_name, face_objs, enforce_detection=False, **kw: []  # default
    broken.skip_faces = lambda img, extra: []  # a required extra parameter
    broken.reference_represent = lambda img: []  # no **kwargs
    problems = "\n".join(conformance_problems(broken))
    for expected in (
        "represent_entry: missing",
        "VERSION is a int",
        "DETECTORS holds [1]",
        "REPRESENT_DEFAULTS: callable",
        "add_border(img): no parameter of that name",
        "clamp_expand_percentage(expand_percentage): no parameter",
        "represent_select(max_faces): at position 2, not 1",
        "finish(enforce_detection): default False",
        "finish(grayscale): no parameter",
        "skip_faces(extra): required",
        "reference_represent(kwargs): takes no **kwargs",
    ):
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"


# -- uses of compat.get() in the source ----------------------------------------------------
def _is_get_call(node: ast.AST) -> bool:
    """``compat.get()`` or ``deepface_batch.compat.get()``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    owner = node.func.value
    named = (isinstance(owner, ast.Name) and owner.id == "compat") or (
        isinstance(owner, ast.Attribute) and owner.attr == "compat"
    )
    return node.func.attr == "get" and named and not node.args and not node.keywords


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``scope``, not descending into the functions and classes it defines
    (those are yielded, to be scanned as scopes of their own)."""
    for child in ast.iter_child_nodes(scope):
        yield child
        if not isinstance(child, _SCOPES):
            yield from _own_nodes(child)


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


Use = tuple[str, str, "ast.Call | None"]  # name, "file:line", the call made with it


def _uses_in(scope: ast.AST, inherited: frozenset[str], where: str) -> Iterator[Use]:
    nodes = list(_own_nodes(scope))
    bound = set(inherited)
    for node in nodes:
        value = getattr(node, "value", None)
        for target in _targets(node):
            if value is not None and _is_get_call(value):
                bound.add(target)
            else:
                bound.discard(target)
    parents = {child: node for node in nodes for child in ast.iter_child_nodes(node)}
    for node in nodes:
        if isinstance(node, _SCOPES):
            yield from _uses_in(node, frozenset(bound), where)
            continue
        if isinstance(node, ast.Attribute) and (
            _is_get_call(node.value) or (isinstance(node.value, ast.Name) and node.value.id in bound)
        ):
            parent = parents.get(node)
            call = parent if isinstance(parent, ast.Call) and parent.func is node else None
            yield node.attr, f"{where}:{node.lineno}", call
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and (_is_get_call(node.args[0]) or (isinstance(node.args[0], ast.Name) and node.args[0].id in bound))
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            yield node.args[1].value, f"{where}:{node.lineno}", None


def uses(source: str, where: str) -> list[Use]:
    return list(_uses_in(ast.parse(source), frozenset(), where))


def scan(folders: list[Path]) -> list[Use]:
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            if any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                continue
            found += uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return found


def test_scan_finds_uses():
    """The scanner itself: a bound name (in an enclosing function too), a direct call,
    getattr, and a rebinding that ends it."""
    source = """
from deepface_batch import compat
import deepface_batch

def outer():
    layer = compat.get()
    layer.finish(1, 2, 3)
    def inner():
        return layer.DETECTORS
    return getattr(layer, "VERSION"), compat.get().add_border(1, True)

def other(layer):
    deepface_batch.compat.get().skip_faces(1)
    layer = object()
    return layer.not_compat
"""
    found = uses(source, "x.py")
    assert sorted(name for name, _, _ in found) == ["DETECTORS", "VERSION", "add_border", "finish", "skip_faces"]
    assert {name for name, _, call in found if call is not None} == {"finish", "add_border", "skip_faces"}


def test_every_name_used_through_compat_get_is_declared():
    """A name the package (or its tests and benchmarks) reads from ``compat.get()`` that
    the Protocol does not declare fails here, naming where it is used."""
    found = scan(SCANNED)
    in_package = {name for name, where, _ in found if where.startswith("deepface_batch")}
    # the scan works: the engine's own calls are seen
    assert {"add_border", "faces_from_regions", "finish", "represent_entry"} <= in_package
    undeclared = sorted({f"{name} ({where})" for name, where, _ in found if name not in members()})
    assert not undeclared, "used through compat.get() but not in CompatLayer:\n" + "\n".join(undeclared)


def _call_problem(name: str, call: ast.Call) -> str | None:
    """Why ``call`` cannot bind to the Protocol's signature of ``name``, if it cannot."""
    declared = functions().get(name)
    if declared is None:
        return f"{name} is called but the Protocol declares it a constant"
    signature = inspect.signature(declared)
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(keyword.arg is None for keyword in call.keywords):
        # *args or **kwargs at the call: only the explicit keywords can be checked
        accepts = set(signature.parameters) | (
            {"*"} if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()) else set()
        )
        unknown = [k.arg for k in call.keywords if k.arg and k.arg not in accepts and "*" not in accepts]
        return f"{name}: unknown keywords {unknown}" if unknown else None
    try:
        signature.bind(None, *call.args, **{keyword.arg: keyword.value for keyword in call.keywords})
    except TypeError as err:
        return f"{name}: {err}"
    return None


def test_calls_through_compat_get_match_the_protocol():
    """Every call made through ``compat.get()`` binds to the declared signature."""
    problems = []
    calls = 0
    for name, where, call in scan(SCANNED):
        if call is None or name not in members():
            continue
        calls += 1
        problem = _call_problem(name, call)
        if problem:
            problems.append(f"{where}: {problem}")
    assert calls >= 10
    assert not problems, "\n".join(problems)


def test_call_check_catches_a_wrong_call():
    (_, _, wrong), (_, _, right) = uses(
        "from deepface_batch import compat\n"
        "compat.get().add_border(img, align=True, colour=1)\n"
        "compat.get().add_border(img, align=True)\n",
        "x.py",
    )
    assert "colour" in (_call_problem("add_border", wrong) or "")
    assert _call_problem("add_border", right) is None
