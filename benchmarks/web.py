"""Web pages at Normandy scale (the bundled scenarios/normandie: 25,556 pupils): the latency
of the pages people open all day, served by uvicorn on loopback and fetched over HTTP.

Targets (issue 16): a school's pupil list < 200 ms, a pupil's page with its suggestions
< 1.5 s, the coordinator's home (map of the EPCIs, indicators) < 1 s. The school is the one
whose pupil count is nearest 300. Each page is fetched once cold (the first request after
start-up loads the scenario, travel times and the live allocation: reported apart) and then
`--repeat` times; the median and the worst are reported.

    .venv/bin/python benchmarks/web.py [--repeat 10] [--solve-seconds 120]

Writes benchmarks/results/web.md. The solve that feeds the store is the one
benchmarks/campaign.py caches in benchmarks/.cache/campaign-solve (made here if absent).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from common import run_affectation

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "scenarios" / "normandie" / "scenario.toml"
CACHE = REPO / "benchmarks" / ".cache" / "campaign-solve"
RESULTS = REPO / "benchmarks" / "results" / "web.md"
SPEED_INDEX = REPO.parent / "shared" / "tools" / "speed-index"
PASSWORD = "banc-d-essai-web"
TARGETS = {"school list": 0.2, "pupil page, first view": 1.5, "coordinator home": 1.0}


def solved(seconds: int) -> Path:
    if not (CACHE / "assignments.csv").is_file():
        print("solving the bundled scenario once (cached)...", file=sys.stderr)
        run_affectation("solve", str(SCENARIO), "--out", str(CACHE), "--time-limit", str(seconds))
    return CACHE


def school_near(n: int) -> tuple[str, int]:
    with open(SCENARIO.parent / "students.csv", encoding="utf-8") as handle:
        counts = Counter(row["school_id"] for row in csv.DictReader(handle))
    uai = min(counts, key=lambda k: (abs(counts[k] - n), k))
    return uai, counts[uai]


def serve(url: str) -> tuple[str, object, threading.Thread]:
    import uvicorn

    from affectation.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(url, "banc"), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def logged_in(base: str, login: str) -> object:
    import httpx

    client = httpx.Client(base_url=base, timeout=600)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"login": login, "password": PASSWORD,
                                           "csrf": csrf, "suite": "/"})
    assert response.status_code == 303, response.status_code
    return client


def timed(client: object, path: str, repeat: int) -> dict[str, float]:
    started = time.perf_counter()
    first = client.get(path)  # type: ignore[attr-defined]
    cold = time.perf_counter() - started
    assert first.status_code == 200, (path, first.status_code)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return {"first": cold, "median": statistics.median(times), "worst": max(times),
            "bytes": len(first.content)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--solve-seconds", type=int, default=120)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="web-bench-"))
    try:
        result = solved(args.solve_seconds)
        scenario = work / "scenario"
        shutil.copytree(SCENARIO.parent, scenario)
        url = f"sqlite:///{work / 'campagne.sqlite'}"
        run_affectation("campaign", "init", str(scenario / "scenario.toml"), "--db", url)
        from affectation.synthetic.people import write_details

        details = write_details(scenario, work / "details", seed=0)
        run_affectation("campaign", "people", str(details["people"]), "--db", url)
        run_affectation("campaign", "load", str(result), "--db", url)
        uai, pupils = school_near(300)
        run_affectation("users", "add", "ecole", "--role", "school", "--school", uai, "--db", url,
            stdin=PASSWORD + "\n")
        run_affectation("users", "add", "coord", "--role", "coordinator", "--db", url,
            stdin=PASSWORD + "\n")
        base, server, thread = serve(url)
        school = logged_in(base, "ecole")
        coord = logged_in(base, "coord")
        started = time.perf_counter()
        rows: dict[str, dict[str, float]] = {}
        listing = school.get("/etablissement").text  # type: ignore[attr-defined]
        warm_up = time.perf_counter() - started
        rows["school list"] = timed(school, "/etablissement", args.repeat)
        unplaced = re.findall(r'<tr data-eleve="([^"]+)">(?:(?!</tr>).)*class="sans"',
                              listing)
        if len(unplaced) < 2:
            unplaced = re.findall(r'data-eleve="([^"]+)"', listing)
        started = time.perf_counter()
        assert school.get(f"/eleve/{unplaced[0]}").status_code == 200  # type: ignore[attr-defined]
        state_load = time.perf_counter() - started
        firsts = []
        for pupil in unplaced[1:1 + args.repeat]:
            started = time.perf_counter()
            assert school.get(f"/eleve/{pupil}").status_code == 200  # type: ignore[attr-defined]
            firsts.append(time.perf_counter() - started)
        rows["pupil page, first view"] = {"first": firsts[0],
                                          "median": statistics.median(firsts),
                                          "worst": max(firsts), "bytes": 0.0}
        rows["pupil page, seen again"] = timed(school, f"/eleve/{unplaced[1]}", args.repeat)
        pupil = f"{len(firsts)} unplaced pupils of the school, {unplaced[0]} first"
        rows["coordinator home"] = timed(coord, "/coordination", args.repeat)
        rows["analyst aggregates (as coordinator)"] = timed(coord, "/analyse", args.repeat)
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(10)
        write(rows, uai, pupils, pupil, warm_up, state_load, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write(rows: dict[str, dict[str, float]], uai: str, pupils: int, pupil: str,
          warm_up: float, state_load: float, repeat: int) -> None:
    load = os.getloadavg()
    speed = ""
    if SPEED_INDEX.exists():
        speed = subprocess.run([sys.executable, str(SPEED_INDEX)], capture_output=True,
                               text=True, check=False).stdout.strip()
    lines = ["# Web pages at Normandy scale", "",
             "`.venv/bin/python benchmarks/web.py` on the bundled scenarios/normandie "
             "(25,556 pupils), SQLite store, uvicorn on loopback, pages fetched over HTTP.",
             "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; load average after the run {load[0]:.2f} "
             f"{load[1]:.2f} {load[2]:.2f}; speed-index: {speed or 'n/a'}.", "",
             f"School {uai} ({pupils} pupils); pupil pages: {pupil}. First school list "
             f"after start-up: {warm_up:.2f} s. First pupil page after start-up (loads the "
             f"scenario, travel times, reachable pairs and the live allocation, once per "
             f"server process; `affectation serve` starts it at once in the background): "
             f"{state_load:.1f} s. Then each page once cold and {repeat} times (pupil "
             f"pages: the first view of each of {repeat} other unplaced pupils).", "",
             "| page | first (s) | median (s) | worst (s) | size (kB) | target (s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        target = TARGETS.get(name)
        size = f"{r['bytes'] / 1000:.0f}" if r["bytes"] else "–"
        lines.append(f"| {name} | {r['first']:.3f} | {r['median']:.3f} | {r['worst']:.3f} | "
                     f"{size} | {'< ' + str(target) if target else ''} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
