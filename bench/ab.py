"""A/B of commits against the floors, in one run, CPU per request beside wall time.

    python -m bench.ab --refs d538540,WORKTREE            # 3 rounds (the default)
    python -m bench.ab --refs HEAD~1,HEAD --no-inprocess --rounds 3

Each ref is a git commit (extracted with ``git archive`` into a temporary directory) or
``WORKTREE`` (this checkout as it is, uncommitted changes included). Every tree runs with
this checkout's Python environment and ``PYTHONPATH`` set to the tree, so the code under
test is the tree's and the libraries are the same for all (install any new dependency
here first).

One round starts every server at once:

- ``floor``: gunicorn, 2 sync workers, bench/floor_apps.py ``floor_app`` (reads the body,
  ``json.loads``, verifies the ES384 token with PyJWT);
- ``flask``: the same gunicorn running an empty Flask handler that parses the body;
- every ref in every configuration (``deployed``: tokens verified, cards recorded;
  ``off``: both off), with that tree's deploy/gunicorn.conf.py, 2 workers;

warms each up, then sends the typical patient to each in turn, in blocks of ``--block``
requests, the order rotating from block to block, so every server sees the same machine
load (the machine is shared: a server measured a minute later sees another machine).
First one client (``--requests`` per server: the workers' CPU per request from
/proc/<pid>/task/*/schedstat, and the wall-clock latency), then four clients
(``--c4-requests``: req/s). Every request carries a fresh ES384 token whose ``aud`` is
the URL called. Then each ref in-process (bench/ab_inprocess.py, deployed settings):
heavy and extreme patients against ``json.loads`` of the same body, thread CPU.

The 1-minute load average is recorded before each block (median per round). The summary
gives, per server, the median over rounds of: CPU per request, its ratio to the floor
app's (and to the Flask handler's) in the same round, median and p99 latency, req/s at 4
clients; in-process, the medians of the hook / ``json.loads`` CPU ratios. Everything goes
to ``bench/results/ab-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .features import Available, TokenMint, build_config
from .inprocess import HOOK_PATH, TEST_CLIENT_BASE, topics_of
from .load import run_load
from .patients import make_patient
from .server import children, cpu_seconds, free_port
from .stats import summarize

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
WORKERS = 2
WORKTREE = "WORKTREE"


@dataclass
class Tree:
    label: str
    path: Path
    commit: str


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def extract(ref: str, into: Path) -> Tree:
    if ref == WORKTREE:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return Tree("worktree", ROOT, _git("rev-parse", "--short", "HEAD")
                    + ("+dirty" if dirty else ""))
    commit = _git("rev-parse", "--short", ref)
    target = into / commit
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return Tree(commit, target, commit)


class Server:
    """One gunicorn: started, measured, stopped."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str],
                 port: int, log: Path) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.env = env
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, warm: Any, timeout: float = 90.0) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited:\n{self._tail()}")
            if len(self.workers()) == WORKERS and warm():
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name}: not ready after {timeout:.0f} s:\n{self._tail()}")

    def workers(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def workers_cpu(self) -> dict[int, float]:
        return {pid: cpu for pid in self.workers() if (cpu := _cpu_seconds(pid)) is not None}

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


def _cpu_seconds(pid: int) -> float | None:
    """CPU time of every thread of ``pid`` in nanoseconds' precision (schedstat), else
    /proc/<pid>/stat's clock ticks (10 ms each: too coarse for a few hundred requests)."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                total += int(stat.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return cpu_seconds(pid)


def _post_ok(port: int, body: bytes, headers: dict[str, str]) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", HOOK_PATH, body=body, headers=headers)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


class Headers:
    """Fresh token per request (pre-signed for each phase), or none."""

    def __init__(self, mint: TokenMint | None, audience: str) -> None:
        self.mint = mint
        self.audience = audience
        self.stock: list[str] = []

    def prepare(self, count: int) -> None:
        if self.mint is not None:
            self.stock = [self.mint.token(self.audience) for _ in range(count)]

    def __call__(self) -> dict[str, str]:
        found = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.mint is not None:
            token = self.stock.pop() if self.stock else self.mint.token(self.audience)
            found["Authorization"] = f"Bearer {token}"
        return found


class Tally:
    """One server's measurements in one round, summed over its blocks."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.cpu = 0.0
        self.requests = 0
        self.elapsed = 0.0
        self.errors = 0
        self.topics: list[str] | None = None

    def add(self, server: Server, headers: Headers, body: bytes, clients: int,
            requests: int) -> None:
        headers.prepare(requests + clients)
        before = server.workers_cpu()
        result = run_load("127.0.0.1", server.port, HOOK_PATH, [body], concurrency=clients,
                          max_requests=requests, max_seconds=120, headers=headers)
        after = server.workers_cpu()
        self.cpu += sum(after[pid] - before[pid] for pid in after if pid in before)
        self.requests += result.completed
        self.elapsed += result.elapsed
        self.errors += result.errors
        self.latencies += result.latencies
        if self.topics is None and result.first_body is not None:
            self.topics = topics_of(json.loads(result.first_body))

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cpu_ms_per_request": (round(self.cpu / self.requests * 1000, 3)
                                   if self.requests else None),
            "throughput_rps": round(self.requests / self.elapsed, 1) if self.elapsed else None,
            "latency": summarize(self.latencies),
            "errors": self.errors,
            "topics": self.topics,
        }


def _measure_round(servers: dict[str, tuple[Server, Headers]], body: bytes,
                   args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    """Every server, in small blocks taken in turn (the order rotating from block to
    block), so all see the same machine load; then the same at 4 clients."""
    names = list(servers)
    out: dict[str, Any] = {}
    for phase, clients, total in (("c1", 1, args.requests), ("c4", 4, args.c4_requests)):
        tallies = {name: Tally() for name in names}
        loads: list[float] = []
        blocks = max(1, total // args.block)
        for block in range(blocks):
            loads.append(round(os.getloadavg()[0], 2))
            shift = (block + round_no) % len(names)
            for name in names[shift:] + names[:shift]:
                server, headers = servers[name]
                tallies[name].add(server, headers, body, clients, args.block)
        for name in names:
            entry = out.setdefault(name, {})
            entry[phase] = tallies[name].as_dict()
            entry.setdefault("loadavg_1m", []).extend(loads)
    for entry in out.values():
        found = entry["loadavg_1m"]
        entry["loadavg_1m"] = round(statistics.median(found), 2)
    return out


def _start(server: Server, headers: Headers, body: bytes, warmup: int) -> None:
    def warm() -> bool:
        headers.prepare(1)
        return _post_ok(server.port, body, headers())

    server.start(warm)
    headers.prepare(warmup)
    run_load("127.0.0.1", server.port, HOOK_PATH, [body], concurrency=1,
             max_requests=warmup, max_seconds=60, headers=headers)


def _hook_server(tree: Tree, config_env: dict[str, str], port: int, log: Path,
                 name: str) -> Server:
    env = {**os.environ, **config_env, "PYTHONPATH": str(tree.path), "PYTHONUNBUFFERED": "1"}
    if env.get("MCAS_ALLOWED_HOSTS"):
        env["MCAS_ALLOWED_HOSTS"] += f",127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn"]
    conf = tree.path / "deploy" / "gunicorn.conf.py"
    if conf.is_file():
        command += ["--config", str(conf)]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
                "--worker-class", "sync", "service:create_app()"]
    return Server(name, command, tree.path, env, port, log)


def _floor_server(app: str, jwks: Path, port: int, log: Path, name: str) -> Server:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_FLOOR_JWKS": str(jwks),
           "BENCH_FLOOR_AUDIENCE": f"http://127.0.0.1:{port}{HOOK_PATH}"}
    command = [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class",
               "sync", "--preload", "--bind", f"127.0.0.1:{port}", f"bench.floor_apps:{app}"]
    return Server(name, command, ROOT, env, port, log)


def _inprocess_all(trees: list[Tree], settings: dict[str, Any], bodies: dict[str, Path],
                   iterations: dict[str, int], mint: TokenMint, workdir: Path,
                   block: int = 2) -> dict[str, Any]:
    """Every tree in its own process, all started first, then blocks of calls taken in
    turn (the order rotating), so every tree sees the same machine load."""
    count = sum(iterations.values()) + 3 * len(bodies) + 5
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for tree in trees:
            spec = {
                "settings": settings | {"DATA_DIR": str(workdir / f"data-{tree.label}"),
                                        "DATABASE_URL": f"sqlite:///{workdir}/cards-{tree.label}.sqlite3"},
                "bodies": {name: str(path) for name, path in bodies.items()},
                "tokens": [mint.token(TEST_CLIENT_BASE + HOOK_PATH) for _ in range(count)],
            }
            spec_path = workdir / f"inprocess-{tree.label}.json"
            spec_path.write_text(json.dumps(spec), encoding="utf-8")
            env = {**os.environ, "PYTHONPATH": str(tree.path)}
            procs[tree.label] = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "ab_inprocess.py"), str(spec_path)],
                cwd=tree.path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True)
        for label, proc in procs.items():
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"in-process run of {label} did not start")
        raw: dict[str, dict[str, dict[str, Any]]] = {
            label: {name: {"errors": 0, "floor_cpu": [], "floor_wall": [], "hook_cpu": [],
                           "hook_wall": []} for name in bodies} for label in procs}
        labels = list(procs)
        for name, total in iterations.items():
            for turn in range(max(1, total // block)):
                shift = turn % len(labels)
                for label in labels[shift:] + labels[:shift]:
                    proc = procs[label]
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(f"{name} {block}\n")
                    proc.stdin.flush()
                    answer = json.loads(proc.stdout.readline())
                    entry = raw[label][name]
                    entry["errors"] += answer.pop("errors")
                    answer.pop("patient")
                    for key, values in answer.items():
                        entry[key] += values
    finally:
        for proc in procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    out: dict[str, Any] = {}
    for label, patients in raw.items():
        for name, entry in patients.items():
            med = {key: statistics.median(entry[key]) * 1000 for key in
                   ("floor_cpu", "floor_wall", "hook_cpu", "hook_wall")}
            out.setdefault(label, {})[name] = {
                "floor_cpu_ms": round(med["floor_cpu"], 3),
                "floor_wall_ms": round(med["floor_wall"], 3),
                "hook_cpu_ms": round(med["hook_cpu"], 3),
                "hook_wall_ms": round(med["hook_wall"], 3),
                "ratio_cpu": round(med["hook_cpu"] / med["floor_cpu"], 3),
                "ratio_wall": round(med["hook_wall"] / med["floor_wall"], 3),
                "errors": entry["errors"],
            }
    return out


def _median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.median(kept), 3) if kept else None


def _cpu(round_result: dict[str, Any], name: str) -> float | None:
    server = round_result["http"].get(name)
    return server["c1"]["cpu_ms_per_request"] if server else None


def summarize_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per server: medians over rounds; ratios are taken within a round, then medians."""
    names = list(rounds[0]["http"]) if rounds and rounds[0].get("http") else []
    http: dict[str, Any] = {}
    for name in names:
        per = [r["http"][name] for r in rounds]
        floors = [_cpu(r, "floor") for r in rounds]
        flasks = [_cpu(r, "flask") for r in rounds]
        cpu = [p["c1"]["cpu_ms_per_request"] for p in per]
        http[name] = {
            "cpu_ms_per_request": _median(cpu),
            "cpu_ms_per_request_rounds": cpu,
            "ratio_to_floor": _median([c / f if c and f else None
                                       for c, f in zip(cpu, floors, strict=True)]),
            "ratio_to_flask": _median([c / f if c and f else None
                                       for c, f in zip(cpu, flasks, strict=True)]),
            "median_ms": _median([p["c1"]["latency"]["median_ms"] for p in per]),
            "p99_ms": _median([p["c1"]["latency"]["p99_ms"] for p in per]),
            "rps_c1": _median([p["c1"]["throughput_rps"] for p in per]),
            "rps_c4": _median([p["c4"]["throughput_rps"] for p in per]),
            "cpu_ms_per_request_c4": _median([p["c4"]["cpu_ms_per_request"] for p in per]),
            "errors": sum(p["c1"]["errors"] + p["c4"]["errors"] for p in per),
            "loadavg_1m": [p["loadavg_1m"] for p in per],
            "topics": per[0]["c1"]["topics"],
        }
    inprocess: dict[str, Any] = {}
    for r in rounds:
        for label, patients in (r.get("inprocess") or {}).items():
            for patient, measured in patients.items():
                entry = inprocess.setdefault(label, {}).setdefault(patient, [])
                entry.append(measured)
    inproc_summary = {
        label: {
            patient: {
                key: _median([m[key] for m in runs])
                for key in ("floor_cpu_ms", "hook_cpu_ms", "ratio_cpu", "floor_wall_ms",
                            "hook_wall_ms", "ratio_wall")
            } | {"errors": sum(m["errors"] for m in runs),
                 "ratio_cpu_rounds": [m["ratio_cpu"] for m in runs]}
            for patient, runs in patients.items()
        }
        for label, patients in inprocess.items()
    }
    return {"http": http, "inprocess": inproc_summary}


def render(summary: dict[str, Any], rounds: int) -> str:
    lines = [f"over HTTP, typical patient, medians of {rounds} rounds (ratios per round, "
             "then median); cpu = workers' CPU ms per request (1 client, /proc)",
             f"{'server':<22}{'cpu ms':>8}{'x floor':>9}{'x flask':>9}{'median':>8}"
             f"{'p99':>8}{'rps c1':>8}{'rps c4':>8}{'err':>5}  loadavg  topics"]
    for name, s in summary["http"].items():
        lines.append(
            f"{name:<22}{s['cpu_ms_per_request']!s:>8}{s['ratio_to_floor']!s:>9}"
            f"{s['ratio_to_flask']!s:>9}{s['median_ms']!s:>8}{s['p99_ms']!s:>8}"
            f"{s['rps_c1']!s:>8}{s['rps_c4']!s:>8}{s['errors']:>5}  "
            f"{','.join(str(x) for x in s['loadavg_1m'])}  {','.join(s['topics'] or [])}")
    if summary["inprocess"]:
        lines.append("")
        lines.append("in-process, deployed settings: thread CPU ms, hook / json.loads")
        lines.append(f"{'tree':<14}{'patient':<9}{'floor':>8}{'hook':>8}{'x cpu':>7}"
                     f"{'x wall':>8}  rounds")
        for label, patients in summary["inprocess"].items():
            for patient, s in patients.items():
                lines.append(f"{label:<14}{patient:<9}{s['floor_cpu_ms']!s:>8}"
                             f"{s['hook_cpu_ms']!s:>8}{s['ratio_cpu']!s:>7}"
                             f"{s['ratio_wall']!s:>8}  {s['ratio_cpu_rounds']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refs", required=True,
                        help=f"comma-separated git refs, or {WORKTREE} for this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", default="deployed,off")
    parser.add_argument("--requests", type=int, default=600, help="1-client requests")
    parser.add_argument("--c4-requests", type=int, default=1200, help="4-client requests")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--block", type=int, default=50,
                        help="requests per server before the next server's turn")
    parser.add_argument("--heavy", type=int, default=30, help="in-process heavy iterations")
    parser.add_argument("--extreme", type=int, default=8,
                        help="in-process extreme iterations")
    parser.add_argument("--no-inprocess", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-floors", action="store_true",
                        help="skip the floor and Flask servers (ratios then absent)")
    parser.add_argument("--http-patient", default="typical",
                        choices=("typical", "heavy", "extreme"),
                        help="the patient sent over HTTP (default: typical)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)

    started = datetime.now(UTC)
    refs = [r for r in args.refs.split(",") if r]
    configs = [c for c in args.configs.split(",") if c]
    available = Available.detect()
    patients = {n: make_patient(n, seed=args.seed) for n in ("typical", "heavy", "extreme")}
    typical = patients[args.http_patient].body
    mint = TokenMint()
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mcas-ab-") as tmp_name:
        tmp = Path(tmp_name)
        trees = [extract(ref, tmp / "trees") for ref in refs]
        jwks = tmp / "floor-jwks.json"
        jwks.write_text(json.dumps(mint.public_jwks()), encoding="utf-8")
        bodies = {}
        for name in ("heavy", "extreme"):
            bodies[name] = tmp / f"{name}.json"
            bodies[name].write_bytes(patients[name].body)
        plan: list[tuple[str, Any]] = []  # every server of a round runs at once
        if not args.no_floors:
            plan += [("floor", "floor_app"), ("flask", "flask_app")]
        plan += [(f"{tree.label}/{config}", (tree, config)) for tree in trees
                 for config in configs]
        for round_no in range(args.rounds):
            workdir = tmp / f"round{round_no}"
            workdir.mkdir()
            http: dict[str, Any] = {}
            if not args.no_http:
                servers: dict[str, tuple[Server, Headers]] = {}
                try:
                    for name, what in plan:
                        port = free_port()
                        log = workdir / f"{name.replace('/', '-')}.log"
                        audience = f"http://127.0.0.1:{port}{HOOK_PATH}"
                        if isinstance(what, str):
                            server = _floor_server(what, jwks, port, log, name)
                            headers = Headers(mint, audience)
                        else:
                            tree, config = what
                            bench_config = build_config(
                                config, available, workdir / name.replace("/", "-"), mint)
                            server = _hook_server(tree, bench_config.environment(), port,
                                                  log, name)
                            headers = Headers(bench_config.mint, audience)
                        _start(server, headers, typical, args.warmup)
                        servers[name] = (server, headers)
                    http = _measure_round(servers, typical, args, round_no)
                finally:
                    for server, _ in servers.values():
                        server.stop()
                for name, measured in http.items():
                    c1, c4 = measured["c1"], measured["c4"]
                    print(f"round {round_no + 1} {name:<22} cpu {c1['cpu_ms_per_request']} "
                          f"ms/req, median {c1['latency']['median_ms']} ms, c4 "
                          f"{c4['throughput_rps']} req/s, errors {c1['errors'] + c4['errors']}, "
                          f"load {measured['loadavg_1m']}", flush=True)
            inprocess: dict[str, Any] = {}
            if not args.no_inprocess:
                settings = build_config("deployed", available, workdir / "inproc",
                                        mint).settings
                inprocess = _inprocess_all(trees, settings, bodies,
                                           {"heavy": args.heavy, "extreme": args.extreme},
                                           mint, workdir)
                for label, measured in inprocess.items():
                    print(f"round {round_no + 1} in-process {label}: "
                          + ", ".join(f"{p} x{m['ratio_cpu']} cpu ({m['hook_cpu_ms']} ms)"
                                      for p, m in measured.items()), flush=True)
            rounds.append({"round": round_no + 1, "http": http, "inprocess": inprocess,
                           "loadavg_1m_end": round(os.getloadavg()[0], 2)})
    summary = summarize_rounds(rounds)
    results = {
        "meta": {"timestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "trees": [t.__dict__ | {"path": str(t.path)} for t in trees],
                 "args": vars(args), "cpus": os.cpu_count(),
                 "expected_topics": sorted(patients[args.http_patient].expected_topics)},
        "rounds": rounds,
        "summary": summary,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"ab-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print()
    if summary:
        print(render(summary, len(rounds)))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
