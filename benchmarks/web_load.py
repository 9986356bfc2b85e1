"""A bounded load test of the web pages on loopback (issue 16): `--users` school accounts
(20), each of its own school, browse their pupil list and unplaced pupils' pages and press
"placer ici" for `--seconds` (60), all at once, against one `affectation serve` process.

    .venv/bin/python benchmarks/web_load.py [--users 20] [--seconds 60] [--scale 0.1]

The campaign: a generated Normandy scenario at `--scale` (0.1: about 2,550 pupils), solved
for `--solve-seconds`, then a `--drop` fraction of the pupils placed alone at one offer made
unplaced again, so that the schools have pupils to place and seats to place them in. Each user
is a thread with its own httpx client and session.

Reported: requests, errors (must be 0: a 5xx, a transport error or any unexpected status),
conflicts (409: another user took the seat first, an expected outcome told in French) and
refusals (422) apart, p50/p95/max latency by kind of request. Then the checks: no lost write
(every placement answered 303 is in the store at the end, unless a later placement of the
same school moved that pupil) and the final allocation of the store passes the independent
checker (`analysis.check`) with no violation. Exit status 1 when a check fails. Writes
benchmarks/results/web-load.md (`--out`).
"""

from __future__ import annotations

import argparse
import csv
import html
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from common import AFFECTATION, run_affectation

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "web-load.md"
SPEED_INDEX = REPO.parent / "shared" / "tools" / "speed-index"
PASSWORD = "banc-d-essai-charge"
UNPLACED = re.compile(r'<tr data-eleve="([^"]+)">(?:(?!</tr>).)*class="sans"')
FORM = re.compile(r'name="key" value="([^"]+)"><input type="hidden" name="revision" '
                  r'value="(\d+)"')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def campaign(work: Path, scale: float, seed: int, solve_seconds: int, drop: float,
             users: int) -> tuple[Path, str, list[str]]:
    """The scenario, the store's URL and the `users` schools with the most pupils to place."""
    scenario = work / "scenario"
    run_affectation("generate", "--out", str(scenario), "--scale", str(scale), "--seed", str(seed))
    run_affectation("solve", str(scenario / "scenario.toml"), "--out", str(work / "run"),
                    "--time-limit", str(solve_seconds))
    path = work / "run" / "assignments.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], list(reader)
    rng = random.Random(seed)
    for row in rows:  # pupils placed alone at one offer for two weeks, made unplaced
        if row["kind"] == "single" and rng.random() < drop:
            row.update(week1_offer_id="", week2_offer_id="", week1_minutes="",
                       week2_minutes="", kind="unplaced", reason="")
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (work / "run" / "summary.json").unlink(missing_ok=True)  # no longer this result's
    url = f"sqlite:///{work / 'campagne.sqlite'}"
    run_affectation("campaign", "init", str(scenario / "scenario.toml"), "--db", url)
    from affectation.synthetic.people import write_details

    details = write_details(scenario, work / "details", seed=seed)
    run_affectation("campaign", "people", str(details["people"]), "--db", url)
    run_affectation("campaign", "load", str(work / "run"), "--db", url)
    unplaced = Counter(r["school_id"] for r in rows if r["kind"] == "unplaced")
    schools = [uai for uai, _ in sorted(unplaced.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(schools) < users:
        sys.exit(f"only {len(schools)} schools with unplaced pupils for {users} users")
    for i, uai in enumerate(schools[:users]):
        run_affectation("users", "add", f"ecole{i:02d}", "--role", "school", "--school", uai,
                        "--db", url, stdin=PASSWORD + "\n")
    return scenario, url, schools[:users]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AFFECTATION_WEB_SECRET": "banc-charge"}
    server = subprocess.Popen([*AFFECTATION, "serve", url, "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(log, "wb"))  # noqa: SIM115
    import httpx

    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
            return server
        except httpx.TransportError:
            if server.poll() is not None:
                sys.exit(f"the server stopped:\n{log.read_text(encoding='utf-8')}")
            time.sleep(0.2)
    server.terminate()
    sys.exit("the server did not start in 120 s")


@dataclass
class Tally:
    """What the users saw; appended to by every thread under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    placed: list[tuple[float, str, str]] = field(default_factory=list)  # (done, pupil, key)
    refusals: Counter[str] = field(default_factory=Counter)  # 409/422 messages, ids masked

    def add(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            self.statuses[(kind, status)] += 1


def user(base: str, login: str, seed: int, until: float, tally: Tally) -> None:
    """One school's staff: list, an unplaced pupil's page, "placer ici", again."""
    import httpx

    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=120) as client:
        def get(kind: str, path: str) -> httpx.Response | None:
            started = time.perf_counter()
            try:
                response = client.get(path)
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.errors.append(f"{login} GET {path}: {exc!r}")
                time.sleep(1)  # a server down: do not spin
                return None
            tally.add(kind, time.perf_counter() - started, response.status_code)
            if response.status_code != 200:
                with tally.lock:
                    tally.errors.append(f"{login} GET {path}: {response.status_code}")
                return None
            return response

        page = client.get("/login")
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        logged = client.post("/login", data={"login": login, "password": PASSWORD,
                                             "csrf": csrf, "suite": "/"})
        if logged.status_code != 303:
            with tally.lock:
                tally.errors.append(f"{login} login: {logged.status_code}")
            return
        while time.perf_counter() < until:
            listing = get("list", "/etablissement")
            if listing is None:
                continue
            pupils = UNPLACED.findall(listing.text)
            if not pupils:  # everyone placed: keep browsing the list and any pupil
                pupils = re.findall(r'data-eleve="([^"]+)"', listing.text)
            pupil = rng.choice(pupils)
            view = get("pupil", f"/eleve/{pupil}")
            if view is None or time.perf_counter() >= until:
                continue
            forms = FORM.findall(view.text)
            if not forms:
                continue
            key, revision = forms[0]
            key = html.unescape(key)
            token = CSRF.search(view.text).group(1)  # type: ignore[union-attr]
            started = time.perf_counter()
            try:
                response = client.post(f"/eleve/{pupil}/placer", data={
                    "key": key, "revision": revision, "csrf": token})
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.errors.append(f"{login} POST {pupil}: {exc!r}")
                continue
            tally.add("place", time.perf_counter() - started, response.status_code)
            if response.status_code == 303:
                with tally.lock:
                    tally.placed.append((time.perf_counter(), pupil, key))
            elif response.status_code in (409, 422):
                found = re.search(r'id="erreur">([^<]*)<', response.text)
                text = html.unescape(found.group(1)) if found else "?"
                with tally.lock:
                    tally.refusals[re.sub(r"\b[A-Z]\d{5,}\b", "…",
                                          re.sub(r"\d\d:\d\d:\d\d", "…", text))] += 1
            else:
                with tally.lock:
                    tally.errors.append(f"{login} POST {pupil}: {response.status_code}")


def lost_writes(url: str, placed: list[tuple[float, str, str]]) -> list[str]:
    """Placements answered 303 whose offer is not among the pupil's live agreements at the
    end, unless a later placement moved that pupil (a suggestion's moves: `id>offer`)."""
    from affectation.store import db, queries

    expected: dict[str, set[str]] = {}
    for _, pupil, key in sorted(placed):
        offer, partner, _, moves = key.split("|", 3)
        expected[pupil] = {offer} | ({partner} if partner else set())
        for move in filter(None, moves.split(",")):
            expected.pop(move.split(">")[0], None)
    engine = db.connect(url)
    lost = []
    with db.reading(engine) as conn:
        for pupil, offers in expected.items():
            live = {r.offer_id for r in queries.live_agreements(conn, pupil)}
            if not offers <= live:
                lost.append(f"{pupil}: {sorted(offers)} not in {sorted(live)}")
    engine.dispose()
    return lost


def violations(url: str, scenario: Path) -> list[str]:
    """The independent checker on the store's live allocation."""
    from affectation.analysis.check import check_allocation
    from affectation.store import db
    from affectation.web.state import CampaignState, assignments_frame

    engine = db.connect(url)
    state = CampaignState(engine, scenario / "scenario.toml")
    with db.reading(engine) as conn:
        snap = state.current(conn)
    found = [str(v) for v in check_allocation(snap.instance, assignments_frame(snap))]
    engine.dispose()
    return found


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--solve-seconds", type=int, default=20)
    parser.add_argument("--drop", type=float, default=0.15,
                        help="fraction of the single placements made unplaced")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="web-load-"))
    server = None
    try:
        scenario, url, schools = campaign(work, args.scale, args.seed, args.solve_seconds,
                                          args.drop, args.users)
        before = violations(url, scenario)
        port = free_port()
        started = time.perf_counter()
        server = serve(url, port, work / "server.log")
        base = f"http://127.0.0.1:{port}"
        # The server loads the campaign in the background: one page first, outside the test.
        warm = logged_in_page(base, "ecole00")
        start_up = time.perf_counter() - started
        print(f"  {start_up:7.2f} s  server up and campaign loaded ({warm})", file=sys.stderr)
        tally = Tally()
        until = time.perf_counter() + args.seconds
        threads = [threading.Thread(target=user, args=(base, f"ecole{i:02d}", args.seed * 1000
                                                       + i, until, tally))
                   for i in range(args.users)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    log = (work / "server.log").read_text(encoding="utf-8", errors="replace")
    if server.returncode not in (0, -15) or "Traceback" in log:
        tally.errors.append(f"server exit status {server.returncode}; its log ends:\n"
                            + log[-3000:])
    try:
        lost = lost_writes(url, tally.placed)
        after = violations(url, scenario)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = not tally.errors and not lost and not after
    write(args, tally, elapsed, start_up, lost, before, after, len(schools), ok)
    return 0 if ok else 1


def logged_in_page(base: str, login: str) -> str:
    import httpx

    with httpx.Client(base_url=base, timeout=600) as client:
        csrf = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"login": login, "password": PASSWORD, "csrf": csrf,
                                    "suite": "/"})
        listing = client.get("/etablissement")
        pupils = re.findall(r'data-eleve="([^"]+)"', listing.text)
        return f"{len(pupils)} pupils on the first list; first pupil page " + \
            str(client.get(f"/eleve/{pupils[0]}").status_code)


def write(args: argparse.Namespace, tally: Tally, elapsed: float, start_up: float,
          lost: list[str], before: list[str], after: list[str], schools: int,
          ok: bool) -> None:
    load = os.getloadavg()
    speed = ""
    if SPEED_INDEX.exists():
        speed = subprocess.run([sys.executable, str(SPEED_INDEX)], capture_output=True,
                               text=True, check=False).stdout.strip()
    total = sum(len(v) for v in tally.times.values())
    statuses = Counter({status: n for (_, status), n in tally.statuses.items()})
    places = {s: n for (k, s), n in tally.statuses.items() if k == "place"}
    lines = [
        "# Web pages under load (loopback)", "",
        f"`.venv/bin/python benchmarks/web_load.py --users {args.users} --seconds "
        f"{args.seconds:g} --scale {args.scale:g} --seed {args.seed}`: a generated Normandy "
        f"scenario at scale {args.scale:g}, solved for {args.solve_seconds} s, "
        f"{args.drop:.0%} of the single placements made unplaced; SQLite store; one "
        f"`affectation serve` process; {args.users} users (threads with their own httpx "
        f"client), each the school account of one of the {schools} schools with the most "
        "unplaced pupils, browsing its list and unplaced pupils' pages and pressing "
        "\"placer ici\" on the first suggestion.", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average after the run {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}; speed-index: {speed or 'n/a'}. Server start and "
        f"campaign load (before the test): {start_up:.1f} s.", "",
        f"**{total} requests in {elapsed:.1f} s ({total / elapsed:.1f}/s); errors: "
        f"{len(tally.errors)}; placements written: {places.get(303, 0)}; conflicts (409, "
        f"expected): {places.get(409, 0)}; refusals (422): {places.get(422, 0)}; lost writes: "
        f"{len(lost)}; checker violations before / after: {len(before)} / {len(after)}; "
        f"{'PASS' if ok else 'FAIL'}.**", "",
        "| request | count | p50 (s) | p95 (s) | max (s) |", "|---|---:|---:|---:|---:|"]
    names = {"list": "school list", "pupil": "pupil page", "place": "placer ici (POST)"}
    every: list[float] = []
    for kind, label in names.items():
        values = tally.times.get(kind, [])
        every += values
        if values:
            lines.append(f"| {label} | {len(values)} | {pct(values, 50):.3f} | "
                         f"{pct(values, 95):.3f} | {max(values):.3f} |")
    if every:
        lines.append(f"| all | {len(every)} | {pct(every, 50):.3f} | {pct(every, 95):.3f} | "
                     f"{max(every):.3f} |")
    lines += ["", "Statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))]
    if tally.refusals:
        lines += ["", "Conflicts and refusals, by message (ids and times masked):",
                  *[f"- {n} × {m}" for m, n in tally.refusals.most_common(8)]]
    for title, items in (("Errors", tally.errors), ("Lost writes", lost),
                         ("Violations after", after)):
        if items:
            lines += ["", f"{title} (first 20):", *[f"- {x}" for x in items[:20]]]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
