"""find's first call, its refresh and many verify pairs: upstream's against deepface_batch's.

    python benchmarks/bench_find.py --files 48 --new 8 --pairs 40 --out report.md

On deepface's own test photos (tests/data/deepface-dataset, twelve of them) copied to
``--files`` files, with CenterFace and Dlib (real weights), in one process:

- **find's first call**: ``DeepFace.find`` on an empty datastore, unpatched (upstream's
  build, one file at a time) against patched (the batched build), and patched with
  ``detect_without_border=True``, with the rows each build stored (faces found) and the
  largest embedding deviation from upstream's rows for the same file and box;
- **a refresh**: ``--new`` files added, the same ``find`` again on both sides;
- **register**: ``--files`` distinct copies (each a little brighter) registered into an
  sqlite database, upstream's ``register`` against the streamed one;
- **verify**: ``--pairs`` pairs over the files, upstream's loop of ``DeepFace.verify``
  against ``deepface_batch.verify(pairs)`` (each distinct image embedded once).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, weights_home, write_result

PHOTOS = ROOT / "tests" / "data" / "deepface-dataset"
OPTIONS = {"model_name": "Dlib", "detector_backend": "centerface", "silent": True, "enforce_detection": False}


def make_folder(path: Path, count: int, start: int = 0) -> list[Path]:
    sources = sorted(PHOTOS.glob("*.jpg"))
    path.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(start, start + count):
        target = path / f"p{n:04d}-{sources[n % len(sources)].name}"
        shutil.copy(sources[n % len(sources)], target)
        made.append(target)
    return made


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def stored(db: Path) -> list[dict]:
    from deepface.modules.filestore import build_file_store

    from deepface_batch import compat

    (found,) = db.glob("ds_model_*.npz")
    return compat.get().read_datastore(build_file_store(str(db)), str(found), "npz")


def deviation(ours: list[dict], theirs: list[dict], db_ours: Path, db_theirs: Path) -> tuple[float, int]:
    """The largest relative embedding deviation over rows of the same file and face (the
    box of ours overlapping upstream's most, IoU at least 0.5), and how many of upstream's
    face rows have no such row of ours."""
    from deepface_batch import embedding

    tolerance = embedding.get_embedder("Dlib").tolerance
    mine: dict[str, list[dict]] = {}
    for row in ours:
        if row["embedding"] is not None:
            mine.setdefault(row["identity"].replace(str(db_ours), ""), []).append(row)
    worst, missing = 0.0, 0
    for row in theirs:
        if row["embedding"] is None:
            continue
        candidates = mine.get(row["identity"].replace(str(db_theirs), ""), [])
        best = max(candidates, key=lambda other: iou(other, row), default=None)
        if best is None or iou(best, row) < 0.5:
            missing += 1
            continue
        worst = max(worst, tolerance.deviation(best["embedding"], row["embedding"]))
    return worst, missing


def iou(a: dict, b: dict) -> float:
    ax, ay, aw, ah = (a[f"target_{k}"] for k in "xywh")
    bx, by, bw, bh = (b[f"target_{k}"] for k in "xywh")
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - w * h
    return w * h / union if union else 0.0


def distinct_copies(path: Path, count: int) -> list[str]:
    """``count`` files of the test photos, each copy a little brighter than the one
    before, so that no two faces are the same (register refuses a duplicate face)."""
    import cv2

    sources = sorted(PHOTOS.glob("*.jpg"))
    path.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        image = cv2.convertScaleAbs(cv2.imread(str(sources[n % len(sources)])), alpha=1, beta=n // len(sources))
        target = path / f"r{n:04d}.png"
        cv2.imwrite(str(target), image)
        made.append(str(target))
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--new", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    weights_home()
    from deepface import DeepFace

    import deepface_batch

    work = Path(tempfile.mkdtemp(prefix="deepface-batch-bench-find-"))
    query = str(PHOTOS / "img11.jpg")
    # warm: weights loaded, both paths run once
    warm = work / "warm"
    make_folder(warm, 2)
    with deepface_batch.unpatched():
        DeepFace.find(query, db_path=str(warm), **OPTIONS)
    shutil.rmtree(warm)
    make_folder(warm, 2)
    with deepface_batch.patched(batch_size=args.batch_size):
        DeepFace.find(query, db_path=str(warm), **OPTIONS)

    sides = {
        "upstream": deepface_batch.unpatched,
        "ours": lambda: deepface_batch.patched(batch_size=args.batch_size),
        "no_border": lambda: deepface_batch.patched(batch_size=args.batch_size, detect_without_border=True),
    }
    first, refresh, rows = {}, {}, {}
    for name, context in sides.items():
        db = work / name
        make_folder(db, args.files)
        with context():
            _, first[name] = timed(lambda db=db: DeepFace.find(query, db_path=str(db), **OPTIONS))
        rows[name] = stored(db)
        make_folder(db, args.new, start=args.files)
        with context():
            _, refresh[name] = timed(lambda db=db: DeepFace.find(query, db_path=str(db), **OPTIONS))
        print(f"{name}: first {first[name]:.1f} s, refresh {refresh[name]:.1f} s", file=sys.stderr)
    faces = {name: sum(row["embedding"] is not None for row in found) for name, found in rows.items()}
    dev_ours, missing_ours = deviation(rows["ours"], rows["upstream"], work / "ours", work / "upstream")
    dev_nb, missing_nb = deviation(rows["no_border"], rows["upstream"], work / "no_border", work / "upstream")

    register_files = distinct_copies(work / "register", args.files)
    register_options = {k: v for k, v in OPTIONS.items() if k != "silent"}
    registered = {}
    for name in ("upstream", "ours"):
        context = sides[name]
        with context():
            result, registered[name] = timed(
                lambda name=name: DeepFace.register(
                    register_files,
                    database_type="sqlite",
                    connection_details=str(work / f"{name}.db"),
                    **register_options,
                )
            )
        registered[f"{name}_inserted"] = result["inserted"]
        print(f"{name}: register {registered[name]:.1f} s", file=sys.stderr)

    files = sorted(str(p) for p in (work / "upstream").glob("*.jpg"))[: max(2, args.pairs // 2)]
    pairs = [(files[i % len(files)], files[(3 * i + 1) % len(files)]) for i in range(args.pairs)]
    verify_options = {k: v for k, v in OPTIONS.items() if k != "silent"}
    with deepface_batch.unpatched():
        DeepFace.verify(pairs[0][0], pairs[0][1], silent=True, **verify_options)  # warm
        want, upstream_verify = timed(lambda: [DeepFace.verify(a, b, silent=True, **verify_options) for a, b in pairs])
    got, ours_verify = timed(lambda: deepface_batch.verify(pairs, batch_size=args.batch_size, **verify_options))
    distance_dev = max(abs(g["distance"] - w["distance"]) for g, w in zip(got, want))
    same = sum(g["verified"] == w["verified"] for g, w in zip(got, want))

    lines = [
        f"## find and verify ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`{' '.join(['python benchmarks/bench_find.py', *sys.argv[1:]])}`; {machine()}. deepface's twelve test "
        f"photos copied to {args.files} files (then {args.new} more), CenterFace and Dlib (real weights), "
        f"`enforce_detection=False`, batch size {args.batch_size}; one run each.",
        "",
        "| | upstream | ours | speed-up | ours without the border | speed-up |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| find's first call ({args.files} files), s | {first['upstream']:.1f} | {first['ours']:.1f} | "
        f"{first['upstream'] / first['ours']:.2f}x | {first['no_border']:.1f} | "
        f"{first['upstream'] / first['no_border']:.2f}x |",
        f"| refresh ({args.new} new files), s | {refresh['upstream']:.1f} | {refresh['ours']:.1f} | "
        f"{refresh['upstream'] / refresh['ours']:.2f}x | {refresh['no_border']:.1f} | "
        f"{refresh['upstream'] / refresh['no_border']:.2f}x |",
        f"| faces stored (first call) | {faces['upstream']} | {faces['ours']} | | {faces['no_border']} | |",
        f"| upstream's faces without a row of ours | | {missing_ours} | | {missing_nb} | |",
        f"| largest embedding deviation (relative) | | {dev_ours:.2g} | | {dev_nb:.2g} | |",
        "",
        f"register of {args.files} files (distinct copies) into sqlite: upstream's {registered['upstream']:.1f} s, "
        f"ours {registered['ours']:.1f} s, {registered['upstream'] / registered['ours']:.2f}x; "
        f"{registered['upstream_inserted']} and {registered['ours_inserted']} faces inserted.",
        "",
        f"verify, {args.pairs} pairs over {len(files)} files: upstream's loop {upstream_verify:.1f} s, "
        f"`deepface_batch.verify` {ours_verify:.1f} s, {upstream_verify / ours_verify:.2f}x; the same `verified` "
        f"on {same} of {len(pairs)} pairs, largest distance difference {distance_dev:.2g}.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_result(args.out, "# deepface-batch: find's build and verify against upstream's\n\n", text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
