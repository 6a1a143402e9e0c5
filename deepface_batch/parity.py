"""Staging an upstream pull request: deepface-batch beside upstream deepface, measured.

Two checks a maintainer asks for, each a function here and a ``deepface-batch parity``
command:

* :func:`check_detectors`: for each backend, on a set of images, the batched results against
  upstream's single-image ones (the deviation measured beside the declared tolerance) and
  images per second of both, as a Markdown table
  (``deepface-batch parity --detector opencv,ssd [IMAGES...]``).
* :func:`upstream_tests`: upstream's own unit tests run twice, unpatched and patched, and
  every test that passes unpatched and fails patched named
  (``deepface-batch parity --upstream-tests PATH``): the first answer to upstream PR #1435
  was that it broke upstream's tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DetectorRow",
    "TestOutcome",
    "UpstreamTestsReport",
    "check_detectors",
    "detectors_table",
    "load_images",
    "upstream_tests",
]


# --- detectors ---------------------------------------------------------------------------


def load_images(paths: Sequence[str]) -> tuple[list[np.ndarray], str]:
    """The images to compare on, and how the report names them.

    Args:
        paths: image files, folders and globs (as the command takes them); none for the
            bundled samples.

    Raises:
        OSError: some files cannot be read as images (the first five are named).
    """
    import cv2

    if not paths:
        from deepface_batch import samples

        bundled = samples.video_frames() + samples.mixed_images()
        return bundled, f"the {len(bundled)} bundled sample images (scikit-image's astronaut, scaled and flipped)"
    from deepface_batch import jobs

    files = jobs.expand_paths(paths)
    images: list[Any] = [cv2.imread(path) for path in files]
    missing = [path for path, image in zip(files, images) if image is None]
    if missing:
        raise OSError(f"cannot read {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    # the set, not every path: a folder of 10,000 photos is one name
    given = paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more path{'s' * (len(paths) > 2)}"
    return images, f"{len(images)} images from {given}"


@dataclass
class DetectorRow:
    """One backend's parity: what it declares, what was measured, and whether it holds.

    ``error`` is set (and the rest empty) for a backend that could not run here.
    """

    backend: str
    batching: str = ""
    tolerance: str = ""
    deviation: dict[str, float] = field(default_factory=dict)
    upstream_per_second: float = 0.0
    ours_per_second: float = 0.0
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def within(self) -> bool:
        return self.error is None and not self.problems


def check_detectors(
    images: Sequence[np.ndarray], names: Sequence[str], batch_size: int | None = None, align: bool = True
) -> list[DetectorRow]:
    """Each backend's batched results against upstream's single-image path, and the speed
    of both on ``images`` (weights loaded before either clock)."""
    from deepface_batch import api, comparison, compat, registry

    layer = compat.get()
    kwargs: dict[str, Any] = {"enforce_detection": False, "align": align}
    rows = []
    for name in names:
        try:
            plugin = registry.get_detector(name)
            api.extract_faces(list(images[:1]), detector_backend=name, **kwargs)  # weights loaded, once
            if name in layer.DETECTORS:
                layer.reference_extract_faces(images[0], detector_backend=name, **kwargs)
        except Exception as err:
            rows.append(DetectorRow(name, error=" ".join(str(err).split())[:90]))
            continue
        start = time.perf_counter()
        if name in layer.DETECTORS:
            upstream = [layer.reference_extract_faces(img, detector_backend=name, **kwargs) for img in images]
        else:
            upstream = [api.extract_one(plugin, img, **kwargs) for img in images]
        upstream_s = time.perf_counter() - start
        start = time.perf_counter()
        ours = api.extract_faces(list(images), detector_backend=name, batch_size=batch_size, **kwargs)
        ours_s = time.perf_counter() - start
        rows.append(
            DetectorRow(
                name,
                batching=plugin.batch_mode.value,
                tolerance=plugin.tolerance.describe(),
                deviation=comparison.deviation(ours, upstream),
                upstream_per_second=len(images) / upstream_s,
                ours_per_second=len(images) / ours_s,
                problems=[
                    p
                    for got, want in zip(ours, upstream)
                    for p in comparison.compare_faces(got, want, plugin.tolerance)
                ],
            )
        )
    return rows


def detectors_table(rows: Sequence[DetectorRow], where: str, batch_size: int, align: bool, details: bool = True) -> str:
    """The parity table, with a header naming the deepface release and the image set."""
    from deepface_batch import compat

    lines = [
        f"Parity of deepface-batch with upstream deepface {compat.get().VERSION}, on {where}; "
        f"batch size {batch_size}, align={align}.",
        "",
        "| backend | batching | declared tolerance | measured: box px, landmark px, confidence | "
        "upstream img/s | ours img/s | ratio | within |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        if row.error is not None:
            lines.append(f"| {row.backend} | - | - | not run: {row.error} | | | | |")
            continue
        worst = row.deviation
        measured = f"{worst['box_px']:g}, {worst['landmark_px']:g}, {worst['confidence']:.2g}" + (
            f"; {worst['count_differs']:g} images differ in face count" if worst["count_differs"] else ""
        )
        lines.append(
            f"| {row.backend} | {row.batching} | {row.tolerance} | {measured} | {row.upstream_per_second:.1f} | "
            f"{row.ours_per_second:.1f} | {row.ours_per_second / row.upstream_per_second:.2f}x | "
            f"{'yes' if row.within else 'NO'} |"
        )
        if row.problems and details:
            lines += [f"<!-- {row.backend}: {p} -->" for p in row.problems[:10]]
    return "\n".join(lines)


# --- upstream's own tests, unpatched and patched -----------------------------------------

#: how each run starts pytest: the hook off and nothing patched, or deepface patched first
_UNPATCHED = "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
_PATCHED = (
    "import sys, deepface_batch\n"
    "if not deepface_batch.patch() and not deepface_batch.is_patched():\n"
    "    sys.exit('deepface-batch could not patch deepface (see the warning above)')\n"
    "import pytest\n"
    "sys.exit(pytest.main(sys.argv[1:]))"
)


@dataclass(frozen=True)
class TestOutcome:
    """One test's outcome in one run: ``passed``, ``failed``, ``error`` or ``skipped``."""

    __test__ = False  # not a pytest test class

    test: str
    outcome: str
    message: str = ""


@dataclass
class UpstreamTestsReport:
    """Upstream's tests, run unpatched and then patched.

    Attributes:
        path: the tests' folder (the runs' working directory, as upstream runs them).
        unpatched, patched: each test's outcome by its id (``file::Class::test``).
        seconds: the two runs' durations.
    """

    path: str
    unpatched: dict[str, TestOutcome]
    patched: dict[str, TestOutcome]
    seconds: tuple[float, float] = (0.0, 0.0)
    returncodes: tuple[int, int] = (0, 0)

    @property
    def broken(self) -> list[tuple[TestOutcome, TestOutcome]]:
        """The tests that pass unpatched and fail (or error) patched."""
        out = []
        for test, before in self.unpatched.items():
            after = self.patched.get(test)
            if before.outcome == "passed" and (after is None or after.outcome in ("failed", "error")):
                out.append((before, after or TestOutcome(test, "error", "not run when patched")))
        return out

    @property
    def ran(self) -> bool:
        """Whether both runs collected tests (pytest's status 5 is "no tests")."""
        return bool(self.unpatched) and bool(self.patched)

    def markdown(self) -> str:
        """The report: counts per run, then every test the patch breaks, with its failure."""

        def counts(outcomes: dict[str, TestOutcome]) -> str:
            tally: dict[str, int] = {}
            for outcome in outcomes.values():
                tally[outcome.outcome] = tally.get(outcome.outcome, 0) + 1
            return ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())) or "no tests"

        lines = [
            f"Upstream's tests in {self.path}, unpatched and then patched by deepface-batch.",
            "",
            f"- unpatched: {counts(self.unpatched)} ({self.seconds[0]:.0f} s)",
            f"- patched: {counts(self.patched)} ({self.seconds[1]:.0f} s)",
        ]
        fixed = [
            t for t, o in self.unpatched.items() if o.outcome != "passed" and self.patched.get(t, o).outcome == "passed"
        ]
        if fixed:
            lines.append(f"- {len(fixed)} fail unpatched and pass patched: {', '.join(fixed)}")
        broken = self.broken
        lines.append(
            f"- {len(broken)} pass unpatched and fail patched" + (":" if broken else ": the patch breaks none of them")
        )
        for _, after in broken:
            message = " ".join(after.message.split())[:300]
            lines.append(f"  - `{after.test}`: {after.outcome}: {message}")
        return "\n".join(lines)


def _outcomes(junit: Path) -> dict[str, TestOutcome]:
    """Each test's outcome from pytest's JUnit XML (``--junitxml``)."""
    if not junit.exists():
        return {}
    outcomes = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        # classname is "file_stem.Class" (dotted), name the test (with its parameters)
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = ("failed" if child.tag == "failure" else "error"), child.get("message") or ""
                break
            if child.tag == "skipped":
                outcome, message = "skipped", child.get("message") or ""
        outcomes[test] = TestOutcome(test, outcome, message)
    return outcomes


def upstream_tests(
    path: str | os.PathLike[str],
    pytest_args: Sequence[str] = (),
    python: str | None = None,
    timeout: float | None = None,
    quiet: bool = False,
) -> UpstreamTestsReport:
    """Run upstream's tests at ``path`` unpatched, then patched, and compare the outcomes.

    Each run is a fresh interpreter in ``path`` (upstream runs its tests from
    ``tests/unit``, whose paths are relative to it): the unpatched one with the import hook
    off (``DEEPFACE_BATCH_DISABLE=1``), the patched one with ``deepface_batch.patch()``
    called before pytest starts, so every ``DeepFace`` function the tests call goes through
    deepface-batch whether the hook is installed or not.

    Args:
        path: a folder of upstream's tests (a checkout's ``tests/unit``, or the tests of a
            deepface source tree).
        pytest_args: more arguments for both runs (``-k``, ``-x``, a file of the folder).
        python: the interpreter (default: this one), where deepface and deepface-batch
            are installed.
        timeout: seconds each run may take.
        quiet: leave out pytest's own output (on stderr otherwise).

    Raises:
        FileNotFoundError: ``path`` is not a folder.
    """
    folder = Path(path).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder of tests at {path}")
    python = python or sys.executable
    results: list[dict[str, TestOutcome]] = []
    seconds: list[float] = []
    codes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="deepface-batch-parity-") as scratch:
        for name, program in (("unpatched", _UNPATCHED), ("patched", _PATCHED)):
            junit = Path(scratch) / f"{name}.xml"
            environment = {**os.environ, "DEEPFACE_BATCH_DISABLE": "1" if name == "unpatched" else "0"}
            # the folder is the run's own root: no configuration or conftest.py of a
            # project around it (this checkout's, say) joins in
            ini = Path(scratch) / "pytest.ini"
            ini.write_text("[pytest]\n")
            command = [
                python,
                "-c",
                program,
                "-c",
                str(ini),
                f"--rootdir={folder}",
                f"--confcutdir={folder}",
                "-p",
                "no:cacheprovider",
                f"--junitxml={junit}",
                "-q",
                *pytest_args,
            ]
            start = time.perf_counter()
            run = subprocess.run(
                command,
                cwd=folder,
                env=environment,
                stdout=subprocess.DEVNULL if quiet else sys.stderr,
                stderr=subprocess.DEVNULL if quiet else sys.stderr,
                timeout=timeout,
                check=False,
            )
            seconds.append(time.perf_counter() - start)
            codes.append(run.returncode)
            results.append(_outcomes(junit))
    return UpstreamTestsReport(
        str(path), results[0], results[1], seconds=(seconds[0], seconds[1]), returncodes=(codes[0], codes[1])
    )
