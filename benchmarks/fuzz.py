"""Fuzz every spec-reading command for N minutes: a result or one located line, never a traceback.

python benchmarks/fuzz.py --minutes 3 [--seed S] [--save DIR] [--strategy NAME ...]

Cases are drawn at random (a fresh seed each run unless --seed) from the
strategies of archcalc.testing.fuzzing, round robin, and run in a worker
process: a case that hangs or crashes the interpreter is killed and counted
without stopping the run, and the worker's peak resident memory is read per
command (Linux; tracemalloc elsewhere). A command over the time limit is run
again and escapes only if its CPU time passes the limit too: other jobs on a
shared machine stretch the wall clock, not archcalc's work (those overruns are
counted as "busy"). Progress every ~10 s; at the end a
table per strategy, every distinct escape minimised (by lines, then by
characters, within a few seconds each) and saved under --save (default
benchmarks/fuzz-escapes/, which git ignores). Exit status 1 if anything escaped.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import re
import resource
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.testing.fuzzing import (  # noqa: E402
    COMMANDS,
    STRATEGIES,
    MiB,
    example_texts,
    rss_supported,
    run_case,
)

HARD_LIMIT = 5.0  # seconds before the worker interrupts a command itself
KILL_AFTER = 30.0  # seconds before the parent kills a worker that stopped answering
ADDRESS_SPACE = 4 * 2**30  # so that a memory bomb fails in the worker, not on the machine
MINIMISE_EACH = 10.0  # seconds to minimise one escape class
MINIMISE_TOTAL = 120.0  # seconds for all of them; the rest are shown as found
BATCH = 10  # cases per hypothesis run; a fresh seed per batch


@dataclass
class Stats:
    cases: int = 0
    seconds: float = 0.0
    max_time: float = 0.0
    max_cpu: float = 0.0
    max_memory: int = 0
    escapes: int = 0
    busy: int = 0  # time overruns that took no more than the limit of CPU when run again


@dataclass
class EscapeClass:
    problem: str
    commands: set[str] = field(default_factory=set)
    strategies: set[str] = field(default_factory=set)
    count: int = 0
    examples: list[tuple[str | bytes, str, str]] = field(default_factory=list)  # text, cmd, detail


# ---------------------------------------------------------------- the worker process


def _worker(conn: Connection, memory: str, time_limit: float, memory_limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    run_case(example_texts().get("resnet18.yaml", ""), memory=None)  # imports, not counted
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        text, commands = job
        results = []
        for command in commands or COMMANDS:
            (r,) = run_case(
                text,
                commands=[command],
                time_limit=time_limit,
                memory_limit=memory_limit,
                memory=memory,
                hard_limit=HARD_LIMIT,
            ).results
            results.append(
                (
                    r.label,
                    r.seconds,
                    r.peak_bytes or 0,
                    r.problem,
                    r.detail,
                    r.stderr[:300],
                    r.cpu_seconds or 0.0,
                )
            )
            if (r.problem or "").startswith("time: no answer"):
                break  # the other commands read the same spec: they would hang as long
        conn.send(results)


class Worker:
    """A process that runs cases; restarted when it hangs or dies."""

    def __init__(self, memory: str, time_limit: float, memory_limit: int) -> None:
        self.args = (memory, time_limit, memory_limit)
        self.time_limit = time_limit
        self.ctx: Any = mp.get_context("fork" if sys.platform == "linux" else "spawn")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()

    def run(self, text: str | bytes, commands: list[str] | None = None) -> list[tuple[Any, ...]]:
        """Per command (label, seconds, peak bytes, problem, detail, stderr head, CPU seconds)."""
        self.conn.send((text, commands))
        if self.conn.poll(KILL_AFTER):
            try:
                answer: list[tuple[Any, ...]] = self.conn.recv()
                return answer
            except EOFError:
                pass
        code = self.proc.exitcode
        self.proc.kill()
        self.proc.join()
        self._start()
        what = "hung (killed)" if code is None else f"worker died (exit {self.proc.exitcode})"
        label = "all" if commands is None else ",".join(commands)
        return [(label, KILL_AFTER, 0, f"process {what}", "", "", KILL_AFTER)]

    def close(self) -> None:
        self.conn.close()
        self.proc.kill()
        self.proc.join()


# ---------------------------------------------------------------- classes and minimising

_PATHY = re.compile(r"/\S*?archcalc-fuzz-\w+/case\.yaml(:\d+:\d+)?")
_VARYING = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|\d[\d,.]*")


def class_key(problem: str, stderr: str) -> str:
    """One escape class per problem, split by the error's wording where the wording is the bug."""
    if problem.startswith(("traceback", "process")):
        return problem
    head = _VARYING.sub("#", _PATHY.sub("SPEC", stderr.split("\n")[0]))
    return f"{problem} | {' '.join(head.split()[:7])}"


def reproduces(worker: Worker, text: str | bytes, command: str, problem: str) -> bool:
    """Whether ``command`` escapes the same way again.

    A time overrun counts only where the command's own CPU time passes the limit
    too: on a machine shared with other jobs the wall clock also counts their turns.
    """
    for r in worker.run(text, [command]):
        if r[3] == problem and not (problem.startswith("time: over") and r[6] <= worker.time_limit):
            return True
    return False


def minimise(
    worker: Worker, text: str | bytes, command: str, problem: str, budget: float
) -> str | bytes:
    """Shorten long runs of characters, then delete lines, while the escape still reproduces."""
    end = time.monotonic() + budget
    best = _shrink_runs(worker, text, command, problem, end)
    sep: Any = b"\n" if isinstance(best, bytes) else "\n"
    lines: list[Any] = best.split(sep)
    chunk = max(1, len(lines) // 2)
    while chunk >= 1 and time.monotonic() < end:
        i, changed = 0, False
        while i < len(lines) and time.monotonic() < end:
            trial = lines[:i] + lines[i + chunk :]
            if trial and reproduces(worker, sep.join(trial), command, problem):
                lines, changed = trial, True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    return _shrink_runs(worker, sep.join(lines), command, problem, end)


def _shrink_runs(
    worker: Worker, text: str | bytes, command: str, problem: str, end: float
) -> str | bytes:
    """Halve long repeats (a 10,000-character name, 1,000 nesting levels) while they reproduce."""
    pattern: Any = rb"(.{1,40}?)\1{15,}" if isinstance(text, bytes) else r"(.{1,40}?)\1{15,}"
    start = 0
    while time.monotonic() < end:
        m = re.compile(pattern, re.S).search(text, start)
        if m is None:
            return text
        unit, count = m.group(1), len(m.group()) // len(m.group(1))
        while count > 2 and time.monotonic() < end:
            trial = text[: m.start()] + unit * (count // 2) + text[m.end() :]
            if not reproduces(worker, trial, command, problem):
                break
            text, count = trial, count // 2
            m = re.compile(pattern, re.S).match(text, m.start()) or m
        start = m.start() + len(unit) * count
    return text


# ---------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--save", type=Path, default=ROOT / "benchmarks" / "fuzz-escapes")
    parser.add_argument("--strategy", action="append", choices=sorted(STRATEGIES))
    parser.add_argument("--time-limit", type=float, default=1.0, help="seconds per command")
    parser.add_argument("--memory-limit", type=float, default=200, help="MiB per command")
    args = parser.parse_args()
    master = args.seed if args.seed is not None else random.randrange(2**32)
    names = args.strategy or sorted(STRATEGIES)
    memory = "rss" if rss_supported() else "tracemalloc"
    worker = Worker(memory, args.time_limit, int(args.memory_limit * MiB))
    print(
        f"fuzzing {', '.join(names)} for {args.minutes:g} min, seed {master}, "
        f"memory by {memory}, commands: {', '.join(COMMANDS)}",
        flush=True,
    )
    stats = {n: Stats() for n in names}
    classes: dict[str, EscapeClass] = {}
    start = time.monotonic()
    stop = start + args.minutes * 60
    last_print = start

    def handle(name: str, text: str | bytes) -> None:
        nonlocal last_print
        if time.monotonic() >= stop:
            return
        t0 = time.monotonic()
        results = worker.run(text)
        s = stats[name]
        s.cases += 1
        s.seconds += time.monotonic() - t0
        escaped = False
        for label, seconds, peak, problem, detail, stderr, cpu in results:
            s.max_time = max(s.max_time, seconds)
            s.max_cpu = max(s.max_cpu, cpu)
            s.max_memory = max(s.max_memory, peak)
            if problem is None:
                continue
            if problem.startswith("time: over") and not reproduces(worker, text, label, problem):
                s.busy += 1  # a busy machine, not archcalc: it kept the bound the second time
                continue
            escaped = True
            c = classes.setdefault(class_key(problem, stderr), EscapeClass(problem))
            c.count += 1
            c.commands.add(label)
            c.strategies.add(name)
            if len(c.examples) < 3:
                c.examples.append((text, label, detail))
            elif len(text) < len(c.examples[0][0]):
                c.examples[0] = (text, label, detail)  # keep the shortest first
        s.escapes += escaped
        now = time.monotonic()
        if now - last_print >= 10:
            last_print = now
            total = sum(x.cases for x in stats.values())
            bad = sum(x.escapes for x in stats.values())
            print(
                f"{now - start:6.0f} s  {total:6d} cases  {total / (now - start):5.1f}/s  "
                f"{bad} with escapes, {len(classes)} classes",
                flush=True,
            )

    batch = 0
    while time.monotonic() < stop:
        name = names[batch % len(names)]
        _run_batch(name, master * 100_003 + batch, lambda text, n=name: handle(n, text))
        batch += 1

    _print_table(stats)
    status = 0
    if classes:
        status = 1
        _report_classes(worker, classes, args.save)
    worker.close()
    print(f"\nseed {master}: rerun with --seed {master}")
    return status


def _run_batch(name: str, batch_seed: int, handle: Any) -> None:
    @settings(
        max_examples=BATCH,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(batch_seed)
    @given(STRATEGIES[name])
    def batch(text: str | bytes) -> None:
        handle(text)

    batch()


def _print_table(stats: dict[str, Stats]) -> None:
    print(f"\n| {'strategy':<18} | {'cases':>6} | {'cases/s':>7} | {'max time':>8} | ", end="")
    print(f"{'max CPU':>8} | {'max memory':>10} | {'escapes':>7} | {'busy':>4} |")
    print(
        f"|{'-' * 20}|{'-' * 7}:|{'-' * 8}:|{'-' * 9}:|{'-' * 9}:|{'-' * 11}:|{'-' * 8}:|", end=""
    )
    print(f"{'-' * 5}:|")
    for name, s in stats.items():
        rate = s.cases / s.seconds if s.seconds else 0.0
        print(
            f"| {name:<18} | {s.cases:>6} | {rate:>7.1f} | {s.max_time:>6.2f} s | "
            f"{s.max_cpu:>6.2f} s | {s.max_memory / MiB:>6.1f} MiB | {s.escapes:>7} | {s.busy:>4} |"
        )
    busy = sum(s.busy for s in stats.values())
    if busy:
        print(
            f"\n{busy} time overruns are not counted: run again, each took no more than the "
            "limit of CPU (the machine was busy with other jobs)"
        )


def _report_classes(worker: Worker, classes: dict[str, EscapeClass], save: Path) -> None:
    save.mkdir(parents=True, exist_ok=True)
    print(f"\n{len(classes)} distinct escape classes (saved under {save}):")
    end = time.monotonic() + MINIMISE_TOTAL
    for i, (key, c) in enumerate(sorted(classes.items(), key=lambda kv: -kv[1].count)):
        text, label, detail = min(c.examples, key=lambda e: len(e[0]))
        small = text
        if label in COMMANDS and time.monotonic() < end:
            small = minimise(worker, text, label, c.problem, budget=MINIMISE_EACH)
        slug = re.sub(r"[^a-z0-9]+", "-", c.problem.lower()).strip("-")[:60]
        files = []
        for j, (t, _, _) in enumerate([(small, label, detail), *c.examples]):
            path = save / f"{i:02d}-{slug}{'' if j == 0 else f'-{j}'}.yaml"
            path.write_bytes(t if isinstance(t, bytes) else t.encode("utf-8", "surrogatepass"))
            files.append(path.name)
        shown = small[:300]
        more = " (first 300 shown)" if len(small) > 300 else ""
        last = [ln for ln in detail.strip().splitlines() if ln.strip()][-1:] or [""]
        print(f"\n[{i:02d}] {key}")
        print(f"     {c.count} escapes; commands: {', '.join(sorted(c.commands))}")
        print(f"     strategies: {', '.join(sorted(c.strategies))}; saved {files[0]}")
        print(f"     last line: {last[0][:200]!a}")
        print(f"     minimal ({len(small)} chars{more}): archcalc {label} SPEC, SPEC = {shown!a}")


if __name__ == "__main__":
    sys.exit(main())
