"""Helpers shared by the benchmark scripts (`scale.py`, `compare.py`): child processes
measured for wall time and peak memory, machine information, a frozen copy of the source,
number formatting.

The scripts never import `affectation` (nor numpy/pandas) in the parent process: every
measured step runs in a child, whose peak RSS would otherwise include the parent's memory
image it was forked from.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "scenarios" / "normandie"

GENERATE_CODE = (
    "import json, sys\n"
    "from affectation.synthetic.scenario import generate_scenario\n"
    "counts = generate_scenario(sys.argv[1], scale=float(sys.argv[2]), seed=int(sys.argv[3]))\n"
    "print(json.dumps(counts))\n"
)

# Environment and working folder of every child process; main() points PYTHONPATH at a
# snapshot of src/ (see snapshot_source) so that every scale runs the same code.
CHILD_ENV: dict[str, str] = dict(os.environ, PYTHONUNBUFFERED="1")
CHILD_CWD: Path | None = None

# The command line in a child process (the parent never imports `affectation`).
AFFECTATION = [sys.executable, "-c", "from affectation.cli import main; main()"]


def run_affectation(*args: str, stdin: str | None = None) -> None:
    """One `affectation` command, its duration on stderr; exits with its stderr on failure."""
    started = time.perf_counter()
    proc = subprocess.run([*AFFECTATION, *args], capture_output=True, text=True, input=stdin,
                          check=False)
    if proc.returncode != 0:
        sys.exit(f"affectation {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    print(f"  {time.perf_counter() - started:7.2f} s  affectation {' '.join(args)[:80]}",
          file=sys.stderr)


def configure_children(cwd: Path, pythonpath: list[Path]) -> None:
    """Run every later child in `cwd`, with `pythonpath` ahead of the inherited one."""
    global CHILD_CWD
    CHILD_CWD = cwd
    CHILD_ENV["PYTHONPATH"] = os.pathsep.join(
        [*(str(p) for p in pythonpath), *filter(None, [os.environ.get("PYTHONPATH")])])


# --------------------------------------------------------------------------- processes


@dataclass
class Run:
    """One finished child process."""

    returncode: int
    wall_s: float
    peak_mb: float | None  # None when the platform cannot tell
    stdout: str
    stderr: str
    timed_out: bool = False
    cpu_s: float | None = None  # user + system CPU time of the child
    others_cores: float | None = None  # mean CPUs used by OTHER processes meanwhile


def _maxrss_mb(ru_maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes.
    if sys.platform == "darwin":
        return ru_maxrss / (1024 * 1024)
    return ru_maxrss / 1024


def run_measured(cmd: list[str], timeout_s: float) -> Run:
    """Run `cmd`, return its exit status, wall time and peak RSS (this child only).

    The child's resource usage comes from ``os.wait4`` on its pid, so it is the peak of that
    process (and of any descendant it waited for), unlike ``RUSAGE_CHILDREN`` which is a
    maximum over every child ever reaped. Output goes to temporary files (no pipe deadlock).
    A watchdog kills the child after `timeout_s` seconds.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out, \
            tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        stat_before = _cpu_jiffies()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=CHILD_CWD, env=CHILD_ENV)
        killed = threading.Event()

        def _kill() -> None:
            killed.set()
            proc.kill()

        watchdog = threading.Timer(timeout_s, _kill)
        watchdog.daemon = True
        watchdog.start()
        peak: float | None = None
        cpu: float | None = None
        try:
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - started
                code = os.waitstatus_to_exitcode(status)
                proc.returncode = code  # tell Popen the child is reaped
                peak = _maxrss_mb(usage.ru_maxrss)
                cpu = usage.ru_utime + usage.ru_stime
            else:  # pragma: no cover - non-POSIX
                code = proc.wait()
                wall = time.perf_counter() - started
        finally:
            watchdog.cancel()
        stat_after = _cpu_jiffies()
        others = None
        if cpu is not None and stat_before and stat_after and wall > 0:
            busy_s = (stat_after[0] - stat_before[0]) / _CLK_TCK
            others = max(0.0, (busy_s - cpu) / wall)
        out.seek(0)
        err.seek(0)
        return Run(code, wall, peak, out.read(), err.read(), killed.is_set(), cpu, others)


try:
    _CLK_TCK = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):  # pragma: no cover
    _CLK_TCK = 100


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat (Linux only)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    vals = [int(x) for x in fields[:8]]  # guest time is already counted in user
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals)
    return total - idle, total


def tool_version(code: str) -> str:
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, env=CHILD_ENV, cwd=CHILD_CWD)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return res.stdout.strip() or "?"


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, str]:
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kb = int(line.split()[1])
                mem = f"{kb / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    cpu_model = platform.processor() or ""
    if not cpu_model:  # platform.processor() is often empty on Linux
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    return {
        "date": _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": f"{platform.processor() or '(empty)'}; {cpu_model or '?'}",
        "machine": platform.machine(),
        "cpu_count": str(os.cpu_count()),
        "memory_total": mem,
        "python": platform.python_version(),
        "ortools": tool_version("import ortools; print(ortools.__version__)"),
        "affectation": tool_version(
            "from importlib.metadata import version; print(version('affectation'))"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "src_uncommitted_changes": "yes" if _git("status", "--porcelain", "--", "src") else "no",
        "code_under_test": tool_version("import affectation; print(affectation.__file__)"),
    }


def _git(*args: str) -> str:
    try:
        res = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return res.stdout.strip() if res.returncode == 0 else ""


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (OSError, AttributeError):
        return None


def busy_cpu_fraction(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy (any process) over `seconds`, from /proc/stat."""
    a = _cpu_jiffies()
    time.sleep(seconds)
    b = _cpu_jiffies()
    if a is None or b is None or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def snapshot_source(work: Path) -> tuple[Path, str]:
    """Copy src/affectation into `work` and return (folder for PYTHONPATH, content hash).

    Other people may edit src/ while a long benchmark runs (the package is installed in
    editable mode); running every scale against one frozen copy keeps the scales comparable
    and the hash says exactly which code was measured.
    """
    dest = work / "src"
    shutil.copytree(REPO / "src" / "affectation", dest / "affectation",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    digest = hashlib.sha256()
    for f in sorted((dest / "affectation").rglob("*")):
        if f.is_file():
            digest.update(f.relative_to(dest).as_posix().encode() + b"\0")
            digest.update(f.read_bytes())
    return dest, digest.hexdigest()[:12]


# --------------------------------------------------------------------------- formatting


def num(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, int):
        return f"{v:,}".replace(",", " ")
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def pct(v: Any, digits: int = 2) -> str:
    return "–" if v is None else f"{100 * float(v):.{digits}f} %"

