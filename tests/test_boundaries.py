"""The boundaries the code states, checked: where deepface may be imported, what each module
exports, one meaning per public name, a command that only parses, and the docs in step.

These read the source (``ast``) and import the package's modules; they load no model.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest

import deepface_batch
from deepface_batch import patching

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "deepface_batch"
#: the folders allowed to import deepface: the compat layer and the detector plugins
DEEPFACE_ALLOWED = ("compat", "plugins")


def package_modules() -> list[str]:
    """Every module of the package, by dotted name."""
    names = ["deepface_batch"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="deepface_batch."):
        names.append(info.name)
    return sorted(names)


def source_of(module: str) -> Path:
    parts = module.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes inside ``if TYPE_CHECKING:`` blocks: imports for annotations,
    which never run."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(child) for statement in node.body for child in ast.walk(statement)}
    return inside


def deepface_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every import of deepface (not deepface_batch) in a module, wherever it stands,
    except those for annotations only (``if TYPE_CHECKING:``)."""
    found = []
    annotations_only = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "deepface"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "deepface":
                found.append((node.lineno, node.module))
    return found


def test_deepface_is_imported_only_by_compat_and_plugins():
    """compat/ says the engine never reaches into deepface directly: every other module
    goes through ``compat.get()``, so a new deepface release changes compat/ and plugins/
    only."""
    offenders = []
    for module in package_modules():
        relative = source_of(module).relative_to(PACKAGE)
        if relative.parts[0] in DEEPFACE_ALLOWED:
            continue
        for line, name in deepface_imports(ast.parse(source_of(module).read_text())):
            offenders.append(f"deepface_batch/{relative}:{line} imports {name}")
    assert not offenders, "deepface imported outside compat/ and plugins/:\n" + "\n".join(offenders)


def test_the_import_check_finds_an_import_inside_a_function():
    tree = ast.parse(
        "def f():\n    from deepface.modules import verification\n    import deepface_batch\n"
        "if TYPE_CHECKING:\n    import deepface.models\n"
    )
    assert deepface_imports(tree) == [(2, "deepface.modules")]


def test_the_hooks_targets_are_the_patchs():
    """The import hook (which cannot import the package) names the modules patch() wraps."""
    spec = importlib.util.spec_from_file_location("hook_under_test", ROOT / "src-hook" / "deepface_batch_hook.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert set(hook.TARGETS) == set(patching.TARGETS)


@pytest.mark.parametrize("module", package_modules())
def test_every_module_declares_its_public_names(module):
    """Each module says what it exports (``__all__``, as httpx's modules do), and every
    name it lists exists."""
    loaded = importlib.import_module(module)
    assert "__all__" in vars(loaded), f"{module} has no __all__"
    missing = [name for name in loaded.__all__ if not hasattr(loaded, name)]
    assert not missing, f"{module}.__all__ lists names it lacks: {missing}"
    assert len(set(loaded.__all__)) == len(loaded.__all__), f"{module}.__all__ repeats a name"


def test_one_meaning_per_public_name():
    """A public name means one thing: two modules exporting the same name export the same
    object (a re-export), never two different ones (``FaceList`` defined twice, four
    ``Options``). The compat modules are implementations of one Protocol and are left out."""
    meanings: dict[str, dict[int, str]] = {}
    for module in package_modules():
        if module.startswith("deepface_batch.compat.") and module != "deepface_batch.compat":
            continue
        loaded = importlib.import_module(module)
        for name in loaded.__all__:
            meanings.setdefault(name, {}).setdefault(id(getattr(loaded, name)), module)
    clashes = {name: sorted(where.values()) for name, where in meanings.items() if len(where) > 1}
    # each plugin module's own raw-output mapping: one role, one per backend by design
    clashes.pop("regions_of", None)
    clashes.pop("THRESHOLD", None)
    assert not clashes, "names exported with different meanings:\n" + "\n".join(
        f"{name}: {', '.join(where)}" for name, where in sorted(clashes.items())
    )


ALLOWED_IN_CLI = {"argparse", "sys", "collections.abc", "pathlib", "__future__"}


def test_the_command_only_parses_arguments():
    """cli.py parses and makes one call per subcommand into a public module: it imports no
    timing, threads, subprocesses, tables or cluster code of its own."""
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module)
    foreign = sorted(
        name
        for name in imported
        if name not in ALLOWED_IN_CLI and not name.startswith("deepface_batch") and name != "ray"
    )
    assert not foreign, f"cli.py imports {foreign}: move that work into the module whose API it is"
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    long = [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name.startswith("_run") and n.end_lineno - n.lineno > 45
    ]
    assert not long, f"cli.py functions too long to be argument handling: {long} (of {functions})"


def test_the_readmes_layout_lists_every_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    missing = []
    for module in package_modules():
        relative = source_of(module).relative_to(ROOT).as_posix()
        folder = relative.rsplit("/", 1)[0] + "/"
        if relative not in layout and not (folder in layout and folder != "deepface_batch/"):
            missing.append(relative)
    assert not missing, f"README's layout does not list: {missing}"


def test_the_changelog_keeps_a_changelog():
    """Keep a Changelog: each release has at most one section of each kind, in the
    standard kinds, and each change is one line."""
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.split(r"^## ", text, flags=re.M)[1:]
    assert releases and releases[0].startswith("Unreleased"), "the first section is Unreleased"
    kinds = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    for release in releases:
        title = release.splitlines()[0]
        sections = re.findall(r"^### (.+)$", release, flags=re.M)
        assert set(sections) <= kinds, f"{title}: sections {sections}"
        assert len(sections) == len(set(sections)), f"{title}: a kind twice in {sections}"
        for line in release.splitlines():
            assert not line.startswith("  "), f"{title}: a change over more than one line: {line!r}"


def test_package_ships_its_types():
    """``py.typed`` is in the package, so type checkers read its annotations."""
    assert (Path(deepface_batch.__file__).parent / "py.typed").is_file()
