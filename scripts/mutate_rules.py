"""Remove each hard rule of the CP-SAT model in turn and record which tests fail.

A rule whose removal no test notices is a rule the suite does not pin (issue 19). For every
function of `affectation.engine.model.RULES`, this runs pytest in a separate process whose
`model.RULES` lacks that rule (the model builder reads `RULES` when it builds, so every
model of that process, whole or neighbourhood, CP-SAT or HiGHS, lacks the rule), then prints
and writes a Markdown table: rule removed -> tests that fail. A first run with every rule
checks that the same tests pass unmutated. Exit status 1 when a mutant survives (no test
fails) or the unmutated run fails.

    .venv/bin/python scripts/mutate_rules.py                  # the default tests below
    .venv/bin/python scripts/mutate_rules.py tests/engine     # or any pytest arguments

The hypothesis seed is fixed (--hypothesis-seed=0 unless given) so that a rerun reproduces
the record; progress goes to stderr, the table to stdout and benchmarks/results/mutation.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TESTS = ["tests/engine/test_model.py", "tests/engine/test_properties.py",
                 "tests/engine/test_solve.py"]
OUT = REPO / "benchmarks" / "results" / "mutation.md"
# Fails whenever RULES changes (it asks for the tests of a new rule): listed in the record,
# but it does not count as catching a removed rule.
GUARD = "test_model::test_every_rule_of_the_model_is_pinned_here"


def child(drop: str, args: list[str]) -> int:
    """In the pytest process: remove rule `drop` (empty: none) from `model.RULES`, run pytest."""
    import pytest
    from hypothesis import Phase, settings

    from affectation.engine import model

    # A failing example is what counts here, not its smallest form: no shrinking (which can
    # take minutes per test when a rule is missing). Loaded by --hypothesis-profile, after
    # tests/conftest.py's own profile.
    settings.register_profile("mutation", database=None, derandomize=False,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])

    if drop:
        kept = tuple(r for r in model.RULES if r.__name__ != drop)
        if len(kept) != len(model.RULES) - 1:
            raise SystemExit(f"no rule named {drop!r} in model.RULES")
        model.RULES = kept
    return int(pytest.main(args))


def rule_names() -> list[str]:
    sys.path.insert(0, str(REPO / "src"))
    from affectation.engine.model import RULES

    return [rule.__name__ for rule in RULES]


def run(drop: str, tests: list[str]) -> tuple[int, list[str], int, float]:
    """(pytest's exit status, failing test ids, tests run, seconds) with rule `drop` removed."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        args = ["-q", "-p", "no:cacheprovider", "--hypothesis-profile=mutation",
                f"--junitxml={report}", *tests]
        if not any(a.startswith("--hypothesis-seed") for a in args):
            args.append("--hypothesis-seed=0")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", drop, "--", *args],
                              cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        seconds = time.perf_counter() - start
        failed: list[str] = []
        total = 0
        if report.is_file():
            for case in ET.parse(report).getroot().iter("testcase"):
                total += 1
                if case.find("failure") is not None or case.find("error") is not None:
                    name = case.get("name", "")
                    failed.append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{name}")
        if proc.returncode not in (0, 1):
            print(proc.stdout[-3000:], file=sys.stderr)
    return proc.returncode, failed, total, seconds


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return child(argv[1], argv[3:])
    tests = argv or DEFAULT_TESTS
    lines = ["# Mutation record: each hard rule of the CP-SAT model removed in turn", "",
             "Command: `" + " ".join([".venv/bin/python scripts/mutate_rules.py", *argv]) + "`",
             f"(tests: {' '.join(tests)}; hypothesis seed 0 unless given),",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start.", "",
             "| rule removed | pytest status | tests run | tests failing | seconds |",
             "|---|---|---|---|---|"]
    details: list[str] = []
    survived = False
    for drop in ["", *rule_names()]:
        label = drop or "(none: every rule)"
        print(f"mutate_rules: {label} ...", file=sys.stderr, flush=True)
        status, failed, total, seconds = run(drop, tests)
        print(f"mutate_rules: {label}: status {status}, {len(failed)} of {total} tests fail, "
              f"{seconds:.0f} s", file=sys.stderr, flush=True)
        lines.append(f"| {label} | {status} | {total} | {len(failed)} | {seconds:.0f} |")
        if drop:
            survived |= not [name for name in failed if name != GUARD]
            details += ["", f"## `{drop}` removed: {len(failed)} failing", ""]
            details += [f"- `{name}`" + (" (the guard: fails on any change of RULES)"
                                         if name == GUARD else "") for name in failed]
            if not [name for name in failed if name != GUARD]:
                details.append("- THE MUTANT SURVIVES: no test but the guard fails")
        elif status != 0:
            survived = True
            details += ["", "## Unmutated run FAILED", ""] + [f"- `{n}`" for n in failed]
    text = "\n".join(lines + details) + "\n"
    print(text)
    OUT.write_text(text, encoding="utf-8")
    print(f"mutate_rules: written {OUT.relative_to(REPO)}", file=sys.stderr)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
