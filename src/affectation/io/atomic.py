"""Atomic writing: a file or a folder is replaced whole or not at all, and never destroys
what is not ours.

Every command that writes goes through here (spec: Output folder), so that:

- **Nothing a user owns is lost.** An output folder is replaced only when it is a folder
  this tool wrote for the same kind of output (it holds the marker file `.affectation-result`,
  written with every folder we write: the command, the engine's version and the names of the
  files written; an allocation of `solve`, `repair` or `mobilise` is replaced by another, a
  sweep by a sweep, a travel report by a travel report, a generated scenario by `generate`;
  or, for allocations written before the marker existed, a `summary.json` of ours and only
  files we write) or when it is empty. A folder holding anything else (a scenario's own folder, a
  folder with unrelated files, a result folder where someone added a file), an existing file
  given as a folder, or a folder holding one of the command's inputs is refused. The command
  line asks `reserve_output_dir` right after parsing its options, before any long work, so
  that a refusal costs nothing; the same checks run again just before the swap.
- **A kill at any instant leaves a whole result.** The new folder is assembled beside its
  destination (`.NAME.tmp-XXXX`) and swapped in at the end. On Linux the swap is one system
  call, `renameat2(RENAME_EXCHANGE)` (through ctypes): the destination name always points at
  a whole folder, old or new; the old one, now under the temporary name, is then deleted.
  Where the call is missing or refused (another system, a file system without it) the swap is
  two renames (the old folder to `.NAME.old-XXXX`, the new one in place); a kill between
  them leaves no folder under the name for an instant, so every write starts by a recovery:
  a `.NAME.old-*` with no `NAME` beside it is renamed back, and stale `.NAME.tmp-*` and
  `.NAME.old-*` folders (a kill while assembling or deleting) are removed.
- **Two runs into one folder do not race.** A run holds an exclusive `flock` on
  `.NAME.lock` beside the folder from its start to its end (the file is removed when the run
  ends); a second run into the same folder is refused at once with a clear message rather
  than left waiting for a long solve.
- **Permissions and disk space are checked first.** A probe file is created and removed in
  the parent folder (read-only folder, missing permission, a parent that is a file), and the
  free space is compared with what the run will write; any failure of the final write is an
  `OutputError` (French message, exit 2), never a traceback, and leaves the previous result.

Being about kills of the process, not power cuts, files are not fsync'ed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from affectation.errors import OutputError, Problem

try:  # POSIX only: elsewhere runs are not serialised (documented)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MARKER = ".affectation-result"
# The commands whose folders are results. A folder is replaced only by a command of its
# family: an allocation (solve, repair, mobilise) by another, a sweep by a sweep, a travel
# report by a travel report; `generate` writes a scenario folder, which only it may replace.
FAMILIES = {"solve": frozenset({"solve", "repair", "mobilise"}),
            "repair": frozenset({"solve", "repair", "mobilise"}),
            "mobilise": frozenset({"solve", "repair", "mobilise"}),
            "sweep": frozenset({"sweep"}), "travel": frozenset({"travel"}),
            "national": frozenset({"national"})}
_WRITTEN_BY = {"solve": "un résultat d'« affectation solve » ou « repair »",
               "repair": "un résultat d'« affectation solve » ou « repair »",
               "mobilise": "un résultat d'« affectation solve » ou « repair »",
               "sweep": "un dossier d'« affectation sweep »",
               "travel": "un dossier d'« affectation travel »",
               "generate": "un scénario écrit par « affectation generate »",
               "national": "un dossier d'« affectation national »"}
# Files of a result folder written before the marker existed (with its summary.json).
LEGACY_RESULT_FILES = frozenset({
    "assignments.csv", "summary.json", "fairness.csv", "indicators.csv", "changes.csv",
    "mobilisation.csv", "resultats.xlsx", "sweep.csv", "sweep_timings.csv", "runs",
    "reach_by_pupil.csv", "no_reach_by_territory.csv",
})
# Files an operating system drops into folders it shows: never a user's work.
SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
# Room kept free beyond what is written, so that a run never fills a disk to the last byte.
MARGIN_BYTES = 1 << 20
_SHOWN = 5  # entries named in a refusal


def _engine_version() -> str:
    try:
        return metadata.version("affectation")
    except metadata.PackageNotFoundError:
        return "0+unknown"


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def write_files(files: Mapping[Path, str | bytes]) -> None:
    """Write each content beside its destination, then move them all into place
    (`os.replace`): an interruption never leaves a half-written file. Text is UTF-8 with the
    line endings it holds. A failure (disk full, permission) is an `OutputError` and leaves
    every destination as it was."""
    temps: list[tuple[Path, Path]] = []
    try:
        for name, content in files.items():
            path = Path(name)
            if path.is_dir():
                raise OutputError([Problem(str(path), "un fichier à écrire : c'est un dossier "
                                           "existant (donnez le chemin d'un fichier)")])
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            temps.append((Path(tmp_name), path))
            with os.fdopen(handle, "wb") as out:
                out.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        for tmp, path in temps:
            os.replace(tmp, path)
    except OSError as exc:
        raise _os_failure(exc, "écrire le fichier") from None
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def write_file(path: Path, content: str | bytes) -> None:
    """Write one file atomically (see `write_files`)."""
    write_files({Path(path): content})


def check_output_file(path: Path, inputs: Iterable[Path] = (), needed_bytes: int = 0) -> None:
    """Refuse, before any work, to write the file `path` where it would destroy something or
    fail: an existing folder, one of the command's own `inputs`, a place that cannot be
    written or has not `needed_bytes` free. An existing file is replaced (atomically)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError([Problem(str(path), "un fichier à écrire : c'est un dossier existant "
                                   "(donnez le chemin d'un fichier, ex. rapport.html)")])
    target = _resolved(path)
    for source in inputs:
        if _resolved(Path(source)) == target:
            raise OutputError([Problem(str(path), "un fichier de sortie différent des fichiers "
                                       "lus (il serait remplacé)")])
    _check_writable_place(path.parent, needed_bytes)


# --------------------------------------------------------------------------------------------
# Result folders
# --------------------------------------------------------------------------------------------

@dataclass
class _Lock:
    path: Path
    fd: int
    depth: int = 1


_HELD: dict[Path, _Lock] = {}  # folders this process holds the lock of


def _lock_path(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.lock"


def _key(out_dir: Path) -> Path:
    return _resolved(out_dir)


def _resolved(path: Path) -> Path:
    return Path(os.path.abspath(path)).resolve()


@contextlib.contextmanager
def reserve_output_dir(out_dir: Path, command: str, inputs: Iterable[Path] = (),
                       needed_bytes: int = 0) -> Iterator[None]:
    """Check that `command` may write the folder `out_dir` (module docstring), restore a
    result a kill left hidden, and hold the folder's lock until the block ends. Raises
    `OutputError` (French, with the reason) when it may not: call it before the long work."""
    out_dir = Path(out_dir)
    _check_folder_target(out_dir, command, inputs)
    _check_writable_place(out_dir.parent, needed_bytes)
    with _locked(out_dir):
        recover_output_dir(out_dir)
        _check_folder_target(out_dir, command, inputs)
        yield


def check_output_dir(out_dir: Path, command: str = "solve", inputs: Iterable[Path] = (),
                     needed_bytes: int = 0) -> None:
    """The checks of `reserve_output_dir` alone (no lock kept): raises `OutputError` when
    `command` may not write `out_dir`."""
    with reserve_output_dir(out_dir, command, inputs, needed_bytes):
        pass


def write_result_folder(out_dir: Path, files: Mapping[str, Callable[[], str | bytes]],
                        command: str = "solve", inputs: Iterable[Path] = ()) -> None:
    """Write `files` (name -> text or bytes producer; a name may hold `/` for a subfolder)
    as the folder `out_dir`, with the marker of `command`, atomically (module docstring)."""
    write_folder_stream(out_dir, ((name, produce()) for name, produce in files.items()),
                        command, inputs)


def write_folder_stream(out_dir: Path, files: Iterable[tuple[str, str | bytes]],
                        command: str = "solve", inputs: Iterable[Path] = ()) -> None:
    """`write_result_folder` for files produced one after the other (name, content): each is
    written as it comes, so that a folder of thousands of documents is never held in memory
    whole; the folder is swapped in only once the last one is written."""
    out_dir = Path(out_dir)
    inputs = tuple(inputs)
    _check_folder_target(out_dir, command, inputs)
    with _locked(out_dir):
        recover_output_dir(out_dir)
        _check_folder_target(out_dir, command, inputs)
        parent = out_dir.parent
        tmp: Path | None = None
        try:
            parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
            top: set[str] = set()
            for name, content in files:
                top.add(name.split("/", 1)[0])
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    (tmp / name).write_bytes(content)
                else:
                    (tmp / name).write_text(content, encoding="utf-8", newline="")
            (tmp / MARKER).write_text(json.dumps(
                {"command": command, "engine_version": _engine_version(), "files": sorted(top)},
                ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            _swap_in(tmp, out_dir)
            tmp = None
        except OSError as exc:
            raise _os_failure(exc, "écrire le dossier de résultats") from None
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


def mark_folder(out_dir: Path, command: str, names: Iterable[str]) -> None:
    """Write the marker of a folder that `command` fills in place, file by file (a national
    run: its académie folders, its work folder), naming every top-level entry it will hold,
    so that the folder is later recognised as ours (module docstring)."""
    write_file(Path(out_dir) / MARKER, json.dumps(
        {"command": command, "engine_version": _engine_version(), "files": sorted(names)},
        ensure_ascii=False, indent=1) + "\n")


def recover_output_dir(out_dir: Path) -> None:
    """Undo what a kill left beside `out_dir`: a hidden previous folder (`.NAME.old-*`) with
    no folder under the name is renamed back; stale `.NAME.tmp-*` and `.NAME.old-*` folders
    are removed. Safe only under the folder's lock (every write holds it)."""
    out_dir = Path(out_dir)
    parent = out_dir.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{out_dir.name}.old-*"),
                  key=lambda p: (p.stat().st_mtime_ns, p.name))
    if olds and not os.path.lexists(out_dir):
        os.rename(olds.pop(), out_dir)
    for stale in [*olds, *parent.glob(f".{out_dir.name}.tmp-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def is_result_folder(folder: Path, command: str = "solve") -> bool:
    """Is `folder` a folder that `command` may replace: empty, or written by a command of the
    same family (results, or `generate`) with nothing added since?"""
    return _folder_refusal(Path(folder), command) == ""


def _folder_refusal(folder: Path, command: str) -> str:
    """Why `command` may not replace `folder` ('' when it may)."""
    entries = sorted(p.name for p in folder.iterdir() if p.name not in SYSTEM_FILES)
    if not entries:
        return ""
    family = FAMILIES.get(command, frozenset({command}))
    wanted = f"un dossier vide ou {_WRITTEN_BY.get(command, 'un dossier de ' + command)}"
    marker = _read_marker(folder / MARKER)
    if marker is not None:
        ours = set(marker.get("files") or ()) | {MARKER}
        if marker.get("command") not in family:
            other = str(marker.get("command"))
            what = _WRITTEN_BY.get(other, f"un dossier d'« affectation {other} »")
            return f"{wanted} : c'est {what}, qui serait remplacé (choisissez un autre dossier)"
    elif "solve" in family and _is_our_summary(folder / "summary.json"):
        ours = set(LEGACY_RESULT_FILES)
    else:
        return (f"{wanted} : il contient {_listed(entries)}, qui seraient supprimés "
                "(choisissez un autre dossier, par exemple un nouveau sous-dossier)")
    foreign = [e for e in entries if e not in ours]
    if foreign:
        return (f"un dossier de résultats sans autre fichier : il contient aussi "
                f"{_listed(foreign)}, qui seraient supprimés (déplacez-les, ou choisissez un "
                "autre dossier)")
    return ""


def _listed(names: list[str]) -> str:
    shown = ", ".join(f"« {n} »" for n in names[:_SHOWN])
    rest = len(names) - _SHOWN
    return shown + (f" et {rest} autre(s)" if rest > 0 else "")


def _read_marker(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_our_summary(path: Path) -> bool:
    """A summary.json written by this tool (before the marker existed)."""
    data = _read_marker(path)
    return data is not None and "engine_version" in data and "placed_full" in data


def _check_folder_target(out_dir: Path, command: str, inputs: Iterable[Path]) -> None:
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise OutputError([Problem(str(out_dir), "un dossier : c'est un fichier existant, qui "
                                   "serait remplacé (donnez le chemin d'un dossier)")])
    if out_dir.is_dir():
        try:
            refusal = _folder_refusal(out_dir, command)
        except OSError as exc:
            raise _os_failure(exc, "lire le dossier") from None
        if refusal:
            raise OutputError([Problem(str(out_dir), refusal)])
    target = _resolved(out_dir)
    for source in inputs:
        path = _resolved(Path(source))
        if path == target or target in path.parents:
            raise OutputError([Problem(str(out_dir), f"un dossier qui ne contient pas les "
                                       f"fichiers lus ({source} serait supprimé)")])


def _check_writable_place(parent: Path, needed_bytes: int) -> None:
    """The nearest existing folder of `parent` accepts a new file and has room."""
    place = Path(os.path.abspath(parent))
    while not place.exists():
        place = place.parent
    if not place.is_dir():
        raise OutputError([Problem(str(place), "un dossier (c'est un fichier : le chemin de "
                                   "sortie passe par un fichier)")])
    try:
        handle, probe = tempfile.mkstemp(prefix=".affectation-probe-", dir=place)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise _os_failure(exc, "écrire dans le dossier", place) from None
    free = shutil.disk_usage(place).free
    if free < needed_bytes + MARGIN_BYTES:
        raise OutputError([Problem(str(place), f"de l'espace disque libre : environ "
                                   f"{_mb(needed_bytes + MARGIN_BYTES)} nécessaires, "
                                   f"{_mb(free)} libres")])


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} Mo"


def _os_failure(exc: OSError, doing: str, where: Path | None = None) -> OutputError:
    """An operating-system failure of a write, in French."""
    reasons = {errno.EACCES: "permission refusée", errno.EPERM: "permission refusée",
               errno.EROFS: "système de fichiers en lecture seule",
               errno.ENOSPC: "disque plein", errno.EDQUOT: "quota disque dépassé",
               errno.ENOTDIR: "un élément du chemin est un fichier",
               errno.ENAMETOOLONG: "nom trop long"}
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    place = str(where) if where is not None else (exc.filename or "")
    return OutputError([Problem(str(place), f"pouvoir {doing} ({reason}) : rien n'a été "
                                "modifié")])


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold the folder's lock (re-entrant within this process); refuse when another process
    holds it."""
    key = _key(out_dir)
    held = _HELD.get(key)
    if held is not None:
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
        return
    lock = _acquire(out_dir)
    _HELD[key] = lock
    try:
        yield
    finally:
        lock.depth -= 1
        if lock.depth <= 0:
            del _HELD[key]
            _release(lock)


def _acquire(out_dir: Path) -> _Lock:
    path = _lock_path(out_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_failure(exc, "créer le dossier", path.parent) from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _os_failure(exc, "créer le verrou", path) from None
        if fcntl is None:  # pragma: no cover - no flock: runs are not serialised
            return _Lock(path, fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = _read_pid(fd)
            os.close(fd)
            raise OutputError([Problem(str(out_dir), "un dossier où aucun autre calcul "
                                       "n'écrit : un autre calcul d'affectation y écrit déjà"
                                       + (f" (processus {other})" if other else "")
                                       + " ; attendez qu'il finisse ou choisissez un autre "
                                       "dossier")]) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file its holder removed while we waited for it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return _Lock(path, fd)
        os.close(fd)


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


def _release(lock: _Lock) -> None:
    with contextlib.suppress(OSError):
        os.unlink(lock.path)
    os.close(lock.fd)


# --------------------------------------------------------------------------------------------
# The swap
# --------------------------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names `a` and `b` in one system call (Linux `renameat2`); False where the
    system or the file system does not offer it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Put the whole folder `tmp` under the name `out_dir`; delete the previous one."""
    if not os.path.lexists(out_dir):
        os.rename(tmp, out_dir)
        return
    if _exchange(tmp, out_dir):
        shutil.rmtree(tmp, ignore_errors=True)  # the previous folder, now under tmp's name
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.rmdir(old)
    os.rename(out_dir, old)
    os.rename(tmp, out_dir)  # a kill before this line: recover_output_dir restores `old`
    shutil.rmtree(old, ignore_errors=True)
