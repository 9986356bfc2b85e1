"""Golden outputs: every command run on a small bundled instance gives the bytes committed in
`tests/golden/expected/`.

The instance (`tests/golden/`, 767 pupils, 390 offers, generated at scale 0.03 with seed 3) is
small enough to be solved whole, so its path never depends on the machine's speed. A change
that alters any output fails here; when the change is meant, regenerate the expected files
with `python tests/test_golden.py` and say why in the commit. Volatile summary fields (wall
and stage times, the engine version, input paths) are left out of the comparison.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from affectation.cli import main

GOLDEN = Path(__file__).parent / "golden"
EXPECTED = GOLDEN / "expected"
VOLATILE = {"wall_seconds", "timings", "cpu_seconds", "engine_version", "path"}
# A pupil left unplaced in the bundled instance, whose story and suggestions are pinned.
PUPIL = "E000018"


def _normalised(summary: Any) -> Any:
    if isinstance(summary, dict):
        return {k: _normalised(v) for k, v in summary.items() if k not in VOLATILE}
    if isinstance(summary, list):
        return [_normalised(v) for v in summary]
    return summary


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def produce(work: Path) -> dict[str, str]:
    """Run every command on the golden instance in `work`; return file name -> text."""
    for name in GOLDEN.iterdir():
        if name.is_file():
            shutil.copy(name, work / name.name)
    out: dict[str, str] = {}
    scenario, equity, changed = (str(work / n) for n in (
        "scenario.toml", "scenario-equity.toml", "scenario-changed.toml"))
    runs = {
        "solve": ["solve", scenario, "--out", str(work / "solve")],
        "equity": ["solve", equity, "--out", str(work / "equity")],
        "repair": ["repair", changed, "--previous", str(work / "solve"),
                   "--out", str(work / "repair")],
        "travel": ["travel", scenario, "--out", str(work / "travel")],
    }
    for name, args in runs.items():
        _run(args)
        for path in sorted((work / name).iterdir()):
            if path.name.startswith("."):  # the result-folder marker: engine version only
                continue
            text = path.read_text(encoding="utf-8")
            if path.name == "summary.json":
                text = json.dumps(_normalised(json.loads(text)), ensure_ascii=False,
                                  indent=2) + "\n"
            out[f"{name}/{path.name}"] = text
    out["explain.txt"] = _run(["explain", scenario, str(work / "solve"), PUPIL])
    out["suggest.csv"] = _run(["suggest", scenario, str(work / "solve"), PUPIL, "--csv"])
    out["suggest.txt"] = _run(["suggest", scenario, str(work / "solve"), PUPIL])
    _run(["mobilise", scenario, str(work / "solve")])
    out["mobilisation.csv"] = (work / "solve" / "mobilisation.csv").read_text(encoding="utf-8")
    return out


def _expected() -> dict[str, str]:
    return {str(p.relative_to(EXPECTED)): p.read_text(encoding="utf-8")
            for p in sorted(EXPECTED.rglob("*")) if p.is_file()}


def test_every_output_is_the_committed_bytes(tmp_path: Path) -> None:
    produced = produce(tmp_path)
    expected = _expected()
    assert sorted(produced) == sorted(expected)
    for name, text in expected.items():
        assert produced[name] == text, f"{name} differs from tests/golden/expected/{name}"


def test_the_golden_pupil_is_unplaced() -> None:
    # The explained pupil must stay an interesting case: not placed for both weeks.
    rows = (EXPECTED / "solve" / "assignments.csv").read_text(encoding="utf-8").splitlines()
    row = next(r for r in rows if r.startswith(PUPIL + ","))
    assert ",unplaced," in row or ",partial," in row


if __name__ == "__main__":  # regenerate the expected files (only for a meant change)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        files = produce(Path(tmp))
    if EXPECTED.exists():
        shutil.rmtree(EXPECTED)
    for name, text in files.items():
        (EXPECTED / name).parent.mkdir(parents=True, exist_ok=True)
        (EXPECTED / name).write_text(text, encoding="utf-8", newline="")
    print(f"{len(files)} files written to {EXPECTED}", file=sys.stderr)
    pytest.main([__file__, "-q"])
