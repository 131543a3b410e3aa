"""Fuzz archcalc's promise about untrusted specs: a result or one located line, never a traceback.

For any spec text, every command that reads a spec (``summary``, ``summary
--json``, ``summary --depth 1``, ``check``, ``lint``, ``compare`` against
``examples/mnist_cnn.yaml``, ``scale`` at two sizes, ``report -o FILE``) must
end with exit status 0, 1 or 2; with status 2 its stderr is exactly one line
that starts with the spec's path (``file:line:col: ...`` or at least
``file: ...``), holds no raw control character, and no command may take more
than a second or 200 MiB. :func:`run_case` checks all of that for one text, in
this process; the strategies draw hostile texts::

    from hypothesis import given
    from archcalc.testing.fuzzing import STRATEGIES, run_case

    @given(STRATEGIES["yaml_features"])
    def test_promise(text):
        assert not run_case(text).escapes

``benchmarks/fuzz.py`` runs them at random for minutes and minimises what
escapes. Needs ``hypothesis``; never imports torch.
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from archcalc import kinds as _kinds
from archcalc.graph import MERGES
from archcalc.spec.parse import MAX_LAYERS

MiB = 2**20

# ---------------------------------------------------------------- the harness

# What one case is run through: label → argv, with {spec}, {other} and {tmp} filled in.
COMMANDS: dict[str, tuple[str, ...]] = {
    "summary": ("summary", "{spec}"),
    "summary --json": ("summary", "{spec}", "--json"),
    "summary --depth 1": ("summary", "{spec}", "--depth", "1"),
    "check": ("check", "{spec}"),
    "lint": ("lint", "{spec}"),
    "compare": ("compare", "{spec}", "{other}"),
    "scale": ("scale", "{spec}", "--sizes", "16,64"),
    "report": ("report", "{spec}", "-o", "{tmp}/r.html"),
    "fit": ("fit", "{spec}", "--memory", "24GiB"),
}

# Characters that must never reach a terminal raw: C0/C1 controls (ESC starts a terminal
# escape sequence, NUL truncates C strings, CR rewrites the line), bidirectional overrides
# (they reorder what the reader sees) and Unicode line separators (they make one line two).
_RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)

_REPO = Path(__file__).resolve().parents[2]
EXAMPLES = _REPO / "examples"


class CaseTimeout(BaseException):
    """Raised inside a command that ran past the hard limit.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    in archcalc swallows it and the command really stops.
    """


@dataclass(frozen=True)
class CommandResult:
    """One command run on one case, and what (if anything) broke the promise."""

    label: str
    argv: tuple[str, ...]
    status: int | None
    stdout: str
    stderr: str
    seconds: float
    peak_bytes: int | None
    problem: str | None = None  # the escape's class, e.g. "traceback: RecursionError"
    detail: str = ""  # the traceback or the offending line, for the report
    # This process's CPU seconds in the command: on a machine shared with other jobs the
    # wall clock also counts their turns, this only archcalc's work.
    cpu_seconds: float | None = None


@dataclass(frozen=True)
class Outcome:
    """Every command's result for one spec text."""

    text: str | bytes
    results: tuple[CommandResult, ...] = field(default_factory=tuple)

    @property
    def escapes(self) -> list[CommandResult]:
        """The commands that broke the promise."""
        return [r for r in self.results if r.problem is not None]

    @property
    def seconds(self) -> float:
        return max((r.seconds for r in self.results), default=0.0)

    @property
    def peak_bytes(self) -> int:
        return max((r.peak_bytes or 0 for r in self.results), default=0)

    def describe(self) -> str:
        """The escapes, one paragraph each, with the argv to replay them."""
        return "\n".join(
            f"[{r.label}] {r.problem}: archcalc {' '.join(r.argv)}\n{r.detail}".rstrip()
            for r in self.escapes
        )


def run_case(
    text: str | bytes,
    *,
    commands: Sequence[str] | None = None,
    time_limit: float = 1.0,
    memory_limit: int = 200 * MiB,
    memory: str | None = "tracemalloc",
    hard_limit: float = 30.0,
) -> Outcome:
    """Write ``text`` to a spec file and run each command on it in this process.

    ``memory`` is ``"tracemalloc"`` (Python allocations, portable, slows
    the run about twofold), ``"rss"`` (the peak resident set, Linux only;
    meaningful in a worker process of its own) or None. A command still
    running after ``hard_limit`` seconds is interrupted (main thread only)
    and counted as an escape.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    chosen = list(COMMANDS) if commands is None else list(commands)
    other = EXAMPLES / "mnist_cnn.yaml"
    with tempfile.TemporaryDirectory(prefix="archcalc-fuzz-") as tmp:
        spec = Path(tmp) / "case.yaml"
        spec.write_bytes(data)
        paths = (str(spec), str(other) if other.exists() else str(spec))
        results = []
        for label in chosen:
            argv = tuple(a.format(spec=paths[0], other=paths[1], tmp=tmp) for a in COMMANDS[label])
            results.append(
                run_command(
                    label,
                    argv,
                    spec_paths=paths,
                    time_limit=time_limit,
                    memory_limit=memory_limit,
                    memory=memory,
                    hard_limit=hard_limit,
                )
            )
    return Outcome(text, tuple(results))


def run_command(
    label: str,
    argv: tuple[str, ...],
    *,
    spec_paths: Sequence[str],
    time_limit: float = 1.0,
    memory_limit: int = 200 * MiB,
    memory: str | None = "tracemalloc",
    hard_limit: float = 30.0,
) -> CommandResult:
    """Run ``archcalc ARGV`` in this process and classify how it ended."""
    from archcalc.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    crash = crash_type = ""
    with _measure(memory) as peak, _deadline(hard_limit):
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(list(argv))
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        except CaseTimeout:
            crash = f"interrupted after {hard_limit:g} s"
        except BaseException as exc:
            crash = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            crash_type = _where(exc)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    stdout, stderr = out.getvalue(), err.getvalue()
    result = CommandResult(label, argv, status, stdout, stderr, seconds, peak[0], cpu_seconds=cpu)
    if crash.startswith("interrupted"):
        return _with(result, "time: no answer (hung)", crash)
    if crash:
        return _with(result, f"traceback: {crash_type}", crash)
    return _with(result, *classify(result, spec_paths, time_limit, memory_limit))


def classify(
    result: CommandResult, spec_paths: Sequence[str], time_limit: float, memory_limit: int
) -> tuple[str | None, str]:
    """(escape class, detail) of a command that returned; (None, "") if it kept the promise."""
    stderr = result.stderr
    if "Traceback (most recent call last)" in stderr + result.stdout:
        return "traceback printed", stderr[-2000:]
    if result.status not in (0, 1, 2):
        return f"exit status {result.status}", stderr[-2000:]
    if result.status == 2:
        lines = stderr.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != 1 or not lines[0].strip():
            return f"{len(lines)} lines on stderr with exit 2", stderr[:2000]
        line = lines[0]
        raw = _RAW.search(line)
        if raw:
            return f"raw {_char_name(raw.group())} in the error line", ascii(line[:400])
        if not any(line.startswith(p + ":") for p in spec_paths):
            return "error line without the spec's path", line[:400]
    raw = _RAW.search(stderr) or _RAW.search(result.stdout)
    if raw:
        where = "stderr" if _RAW.search(stderr) else "stdout"
        return f"raw {_char_name(raw.group())} on {where}", ascii(
            (stderr if where == "stderr" else result.stdout)[:400]
        )
    if result.seconds > time_limit:
        cpu = "" if result.cpu_seconds is None else f" ({result.cpu_seconds:.2f} s of CPU)"
        return (
            f"time: over {time_limit:g} s",
            f"{result.seconds:.2f} s{cpu}; stderr: {stderr[:300]}",
        )
    if result.peak_bytes is not None and result.peak_bytes > memory_limit:
        return (
            f"memory: over {memory_limit / MiB:.0f} MiB",
            f"{result.peak_bytes / MiB:.0f} MiB; stderr: {stderr[:300]}",
        )
    return None, ""


def _with(result: CommandResult, problem: str | None, detail: str) -> CommandResult:
    return CommandResult(**{**result.__dict__, "problem": problem, "detail": detail})


def _where(exc: BaseException) -> str:
    """``TypeName at archcalc/module.py:function``: the innermost archcalc frame names the bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if "/archcalc/" in f.filename.replace("\\", "/")]
    if not (mine or frames):
        return type(exc).__name__
    frame = (mine or frames)[-1]
    short = frame.filename.replace("\\", "/").split("/archcalc/")[-1]
    return f"{type(exc).__name__} at {short}:{frame.name}"


def _char_name(ch: str) -> str:
    names = {"\x00": "NUL", "\x1b": "ESC", "\r": "CR", "\x7f": "DEL", "\x85": "NEL"}
    if ch in names:
        return names[ch]
    if "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" or ch in "\u200e\u200f\u061c":
        return "bidi control"
    if ch in "\u2028\u2029":
        return "line separator"
    return "control char"


@contextlib.contextmanager
def _measure(memory: str | None) -> Iterator[list[int | None]]:
    """Yield a one-item list that holds the block's peak memory in bytes once it ends."""
    peak: list[int | None] = [None]
    if memory == "tracemalloc":
        was = tracemalloc.is_tracing()
        if not was:
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            yield peak
        finally:
            peak[0] = max(0, tracemalloc.get_traced_memory()[1] - base)
            if not was:
                tracemalloc.stop()
    elif memory == "rss":
        # Linux: writing 5 to clear_refs resets the high-water mark (VmHWM) to the current RSS.
        Path("/proc/self/clear_refs").write_text("5")
        base = _status_kib("VmRSS")
        try:
            yield peak
        finally:
            peak[0] = max(0, _status_kib("VmHWM") - base) * 1024
    else:
        yield peak


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_supported() -> bool:
    """Whether ``memory="rss"`` works here (Linux with a writable clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmHWM") > 0
    except OSError:
        return False


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise CaseTimeout in the block after ``seconds`` (a no-op off the main thread)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise CaseTimeout

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- the seed specs


def example_texts() -> dict[str, str]:
    """examples/*.yaml by file name, or one built-in spec when the examples are not at hand."""
    found = {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))}
    return found or {"mnist_cnn.yaml": _MNIST}


_MNIST = """\
name: mnist-cnn
input: [1, 28, 28]
layers:
  - conv2d: {name: conv1, out: 16, kernel: 3, padding: 1}
  - relu
  - maxpool2d: {name: pool1, kernel: 2, stride: 2}
  - flatten
  - linear: {name: fc1, out: 10}
"""

# Every registered layer kind (so a new kind is fuzzed the day it lands), the merges and
# the composites.
LAYER_KINDS = sorted(_kinds.REGISTRY)
KINDS = [*LAYER_KINDS, *sorted(MERGES), "repeat", "residual", "concat"]
KEYS = [
    "name",
    "input",
    "layers",
    "blocks",
    "lint",
    "description",
    "ignore",
    "params",
    "out",
    "kernel",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "times",
    "shortcut",
    "branches",
    "p",
    "output",
    "eps",
    "momentum",
    "affine",
    "track_running_stats",
    "ceil_mode",
    "count_include_pad",
    "negative_slope",
    "size",
    "alpha",
    "beta",
    "k",
    "same",
    "valid",
]

# Numbers at and past every edge: zero, negatives, the int32 limit, 2**63, floats that
# overflow, NaN in YAML's and in other spellings, a 400-digit and a 5,000-digit int (Python
# refuses to convert the latter by default), YAML 1.1 oddities (hex, octal, sexagesimal).
EXTREMES = (
    "0",
    "-1",
    "-0",
    "1",
    "2147483647",
    "2147483648",
    str(2**63),
    str(-(2**63)),
    "1e300",
    "-1e300",
    "1e400",
    "1e-300",
    ".nan",
    ".inf",
    "-.inf",
    "nan",
    "inf",
    "9" * 400,
    "9" * 5000,
    "0x7fffffff",
    "0o17",
    "1_000_000",
    "1:30",
    "0.5",
    "3.0",
    "true",
    "null",
    "''",
    "[]",
    "{}",
    "[1, 2, 3]",
    "[0, 0]",
    "[2147483647, 2147483647]",
)

# Bytes a hostile file may hold: terminal escape sequences (colour, clear screen, set
# window title), NUL, CR, bidirectional overrides, BOM, Unicode line separators.
CONTROLS = (
    "\x00",
    "\x1b[31m",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\x07",
    "\x08",
    "\x0c",
    "\x7f",
    "\x85",
    "\x9b",
    "\r",
    "\r\n",
    "\t",
    "\u202e",
    "\u2066",
    "\u200f",
    "\ufeff",
    "\u2028",
    "\ud800",  # a lone surrogate: written as bytes that are not UTF-8
)


# ---------------------------------------------------------------- strategy 1: mutated examples

_NUMBER = re.compile(r"(?<![\w.$])-?\d+(?:\.\d+)?(?![\w.])")
_WORD = re.compile(r"(?<![\w$])[A-Za-z_][A-Za-z0-9_]*")

unicode_words = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12).filter(
    lambda s: "\n" not in s
)


def _near_miss(draw: st.DrawFn, word: str) -> str:
    how = draw(st.sampled_from(("drop", "double", "swap", "upper", "suffix", "vocab", "unicode")))
    i = draw(st.integers(0, max(0, len(word) - 1)))
    if how == "drop" and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if how == "double":
        return word[: i + 1] + word[i:]
    if how == "swap" and len(word) > 1:
        i = min(i, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "upper":
        return word.upper()
    if how == "suffix":
        return word + draw(st.sampled_from(("2", "_", "s", "d", "x" * 300)))
    if how == "vocab":
        return draw(st.sampled_from(KINDS + KEYS))
    return draw(unicode_words)


def _mutate(draw: st.DrawFn, lines: list[str]) -> list[str]:
    how = draw(
        st.sampled_from(
            ("delete", "duplicate", "swap", "number", "word", "control", "indent", "long")
        )
    )
    n = len(lines)
    i = draw(st.integers(0, max(0, n - 1)))
    if n == 0:
        return [draw(unicode_words)]
    line = lines[i]
    if how == "delete":
        return lines[:i] + lines[i + 1 :]
    if how == "duplicate":
        return lines[: i + 1] + [line] * draw(st.sampled_from((1, 2, 50))) + lines[i + 1 :]
    if how == "swap":
        j = draw(st.integers(0, n - 1))
        out = list(lines)
        out[i], out[j] = out[j], out[i]
        return out
    if how == "number":
        spans = [m.span() for m in _NUMBER.finditer(line)]
        if spans:
            a, b = spans[draw(st.integers(0, len(spans) - 1))]
            line = line[:a] + draw(st.sampled_from(EXTREMES)) + line[b:]
    elif how == "word":
        words = list(_WORD.finditer(line))
        if words:
            w = words[draw(st.integers(0, len(words) - 1))]
            line = line[: w.start()] + _near_miss(draw, w.group()) + line[w.end() :]
    elif how == "control":
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.sampled_from(CONTROLS)) + line[at:]
    elif how == "indent":
        line = draw(st.sampled_from(("  ", "\t", " "))) + line if draw(st.booleans()) else line[2:]
    else:  # a very long value in place of a name or a number
        places = [m.span() for m in _WORD.finditer(line)] + [
            m.span() for m in _NUMBER.finditer(line)
        ]
        if places:
            a, b = places[draw(st.integers(0, len(places) - 1))]
            size = draw(st.sampled_from((100, 1_000, 10_000, 100_000)))
            line = line[:a] + draw(st.sampled_from(("a", "9", "x_", "é"))) * size + line[b:]
    return [*lines[:i], line, *lines[i + 1 :]]


@st.composite
def mutated_examples(draw: st.DrawFn, max_mutations: int = 4) -> str:
    """An example spec with 1 to ``max_mutations`` lines deleted, repeated, swapped or damaged."""
    texts = example_texts()
    lines = texts[draw(st.sampled_from(sorted(texts)))].splitlines()
    for _ in range(draw(st.integers(1, max_mutations))):
        lines = _mutate(draw, lines)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- strategy 2: spec structures

_ANY_INT = st.one_of(
    st.integers(-2, 40),
    st.sampled_from((0, -1, 2**31 - 1, 2**31, 2**63, 10**30, 10**400)),
)
_ANY_NUMBER = st.one_of(
    _ANY_INT,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from((0.5, 1e300, -1e300)),
)
_ARG = st.one_of(
    _ANY_NUMBER,
    st.lists(_ANY_INT, min_size=0, max_size=3),
    st.sampled_from(("same", "valid", True, False, None, "$c", "$missing")),
    unicode_words,
)
_NAME = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
    st.sampled_from(("shortcut", "0", "relu", "a.b", "x" * 5_000, "é", "conv1")),
    unicode_words,
)


def _leaf(draw: st.DrawFn) -> Any:
    kind = draw(
        st.one_of(st.sampled_from(LAYER_KINDS), st.sampled_from(("blk", "b0")), unicode_words)
    )
    if draw(st.integers(0, 3)) == 0:
        return kind
    if draw(st.booleans()):
        return {kind: draw(_ARG)}
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True))
    args = {k: draw(_ARG) for k in keys}
    if draw(st.booleans()):
        args["name"] = draw(_NAME)
    return {kind: args}


def _layers(draw: st.DrawFn, depth: int, width: int) -> list[Any]:
    out = []
    for _ in range(draw(st.integers(1, width))):
        if depth > 0 and draw(st.integers(0, 2)) == 0:
            out.append(_composite(draw, depth - 1, width))
        else:
            out.append(_leaf(draw))
    return out


def _composite(draw: st.DrawFn, depth: int, width: int) -> Any:
    kind = draw(st.sampled_from(("repeat", "residual", "concat", "call")))
    if kind == "repeat":
        times = draw(st.one_of(st.integers(1, 4), _ANY_INT))
        return {"repeat": {"times": times, "layers": _layers(draw, depth, width)}}
    if kind == "residual":
        body: dict[str, Any] = {"layers": _layers(draw, depth, width)}
        if draw(st.booleans()):
            body["shortcut"] = _layers(draw, depth, width)
        return {"residual": body}
    if kind == "concat":
        return {"concat": [_layers(draw, depth, width) for _ in range(draw(st.integers(1, 4)))]}
    return {"blk": {"c": draw(_ANY_INT)}}


def _nested(kind: str, depth: int, block: bool) -> str:
    """``depth`` composites of one kind, each holding the next, as YAML text.

    Written as text, not dumped from a dict: PyYAML's dumper recurses and
    would give up long before the nesting this draws.
    """
    if block:  # each level indents further: the file outgrows the size limit deep enough
        lines = []
        for i in range(depth):
            pad = "  " + "    " * i
            if kind == "concat":
                lines += [f"{pad}- concat:", f"{pad}  - [identity]", f"{pad}  -"]
            else:
                lines += [f"{pad}- {kind}:", f"{pad}    layers:"]
                if kind == "repeat":
                    lines.insert(-1, f"{pad}    times: 2")
        return "layers:\n" + "\n".join(lines) + "\n" + "  " + "    " * depth + "- relu\n"
    open_, close = {
        "repeat": ("{repeat: {times: 2, layers: [", "]}}"),
        "residual": ("{residual: {layers: [", "]}}"),
        "concat": ("{concat: [[identity], [", "]]}"),
    }[kind]
    return "layers: [" + open_ * depth + "relu" + close * depth + "]\n"


def _block_chain(length: int, shape: str) -> dict[str, Any]:
    """Blocks b0 → b1 → ... → b{length}: a chain, a cycle, or a fan-out doubling per level."""
    blocks: dict[str, Any] = {}
    for i in range(length):
        call: Any = {f"b{i + 1}": {"c": "$c"}}
        layers = [call, call] if shape == "fanout" else [call]
        blocks[f"b{i}"] = {"params": {"c": 4}, "layers": layers}
    last = [{"b0": {"c": "$c"}}] if shape == "cycle" else ["relu"]
    blocks[f"b{length}"] = {"params": {"c": 4}, "layers": last}
    return blocks


class _NoAliasDumper(yaml.SafeDumper):
    """Dump repeated objects in full rather than as anchors, which archcalc refuses."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(spec: Any, flow: bool | None = None) -> str:
    """A spec dict as YAML text (block or flow style), never with anchors."""
    return yaml.dump(
        spec,
        Dumper=_NoAliasDumper,
        default_flow_style=flow,
        allow_unicode=True,
        sort_keys=False,
        width=2**31 - 1,
    )


@st.composite
def spec_structures(draw: st.DrawFn) -> str:
    """A spec drawn as a structure: composites nested deep and wide, block chains, odd values."""
    shape = draw(
        st.sampled_from(("random", "nested", "chain", "cycle", "fanout", "times", "wide", "names"))
    )
    spec: dict[str, Any] = {"name": draw(st.one_of(_NAME, st.just("fuzz")))}
    spec["input"] = draw(
        st.one_of(
            st.just([3, 16, 16]),
            st.just([1, 28, 28]),
            st.lists(_ANY_INT, min_size=0, max_size=4),
            _ARG,
        )
    )
    blocks: dict[str, Any] = {
        "blk": {"params": {"c": 8}, "layers": [{"conv2d": {"out": "$c", "kernel": 3}}, "relu"]}
    }
    if shape == "random":
        layers = _layers(draw, draw(st.integers(0, 3)), draw(st.integers(1, 4)))
    elif shape == "nested":
        kind = draw(st.sampled_from(("repeat", "residual", "concat")))
        depth = draw(st.sampled_from((5, 30, 60, 70, 100, 250, 1_000, 5_000)))
        block = depth <= 100 and draw(st.booleans())
        return dump({"name": "nested", "input": [1, 8, 8]}) + _nested(kind, depth, block)
    elif shape in ("chain", "cycle", "fanout"):
        length = draw(st.sampled_from((2, 10, 30, 60, 100, 300, 1_000, 3_000)))
        blocks.update(_block_chain(length, shape))
        layers = [{"b0": {"c": 4}}]
    elif shape == "times":
        times = draw(
            st.sampled_from((MAX_LAYERS, MAX_LAYERS + 1, 2**31 - 1, 2**31, 2**63, 10**400))
        )
        inner = draw(
            st.sampled_from((["relu"], [{"repeat": {"times": times, "layers": ["relu"]}}]))
        )
        layers = [{"repeat": {"times": times, "layers": inner}}]
    elif shape == "wide":  # up to the layer cap, each layer's receptive field its own or not
        n = draw(st.sampled_from((100, 2_000, MAX_LAYERS - 1, MAX_LAYERS, MAX_LAYERS + 1)))
        layer = draw(
            st.sampled_from(
                (
                    {"conv2d": {"out": 4, "kernel": 1}},
                    {"conv2d": {"out": 4, "kernel": 3, "padding": 1}},
                    "relu",
                )
            )
        )
        layers = [layer] * n
    else:  # long and strange names everywhere a name goes
        size = draw(st.sampled_from((100, 1_000, 10_000, 100_000)))
        long = draw(st.sampled_from(("a", "z_", "é", "\u202e", "\x1b[1m"))) * size
        where = draw(st.sampled_from(("kind", "name", "key", "block", "top", "param")))
        layers = [{"conv2d": {"out": 4, "kernel": 3}}, "relu"]
        if where == "kind":
            layers.append({long: {"out": 3}})
        elif where == "name":
            layers.append({"linear": {"name": long, "out": 3}})
        elif where == "key":
            layers.append({"linear": {long: 3}})
        elif where == "block":
            blocks[long] = {"layers": ["relu"]}
            layers.append(long)
        elif where == "param":
            layers.append({"blk": {long: 3}})
        else:
            spec[long] = 1
    if shape != "random" or draw(st.booleans()):
        spec["blocks"] = blocks
    spec["layers"] = layers
    return dump(spec, flow=draw(st.sampled_from((None, True, False))))


# ---------------------------------------------------------------- strategy 3: raw YAML features

_HEAD = "name: fuzz\ninput: [1, 28, 28]\n"
_BODY = "layers:\n  - conv2d: {out: 4, kernel: 3}\n  - flatten\n  - linear: 10\n"


def _flow_nest(depth: int) -> str:
    return _HEAD + "layers: " + "[" * depth + "relu" + "]" * depth + "\n"


def _block_nest(depth: int) -> str:
    lines = [_HEAD + "layers:"] + ["  " * (i + 1) + "-" for i in range(depth)]
    return "\n".join(lines) + " relu\n"


def _map_nest(depth: int) -> str:
    return (
        _HEAD + "layers:\n  - conv2d:\n" + "".join("    " + "  " * i + "k:\n" for i in range(depth))
    )


def _billion_laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\n{_HEAD}layers: *a{levels - 1}\n"


_FEATURES: dict[str, Callable[[int], str]] = {
    "flow nesting": _flow_nest,
    "block nesting": _block_nest,
    "mapping nesting": _map_nest,
    "flow mapping nesting": lambda d: _HEAD + "layers: [" + "{a: " * d + "1" + "}" * d + "]\n",
    "billion laughs": lambda d: _billion_laughs(min(d, 9)),
    "anchor": lambda d: _HEAD + "layers: &x [relu]\nblocks: {b: {layers: *x}}\n",
    "merge key": lambda d: _HEAD + "base: &b {out: 3}\nlayers:\n  - linear: {<<: *b}\n",
    "long line": lambda d: _HEAD + "description: " + "x" * (d * 100) + "\n" + _BODY,
    "long comment": lambda d: "#" + "x" * (d * 100) + "\n" + _HEAD + _BODY,
    "long key": lambda d: _HEAD + "x" * (d * 10) + ": 1\n" + _BODY,
    "long plain name": lambda d: "name: " + "n" * (d * 100) + "\ninput: [1, 8, 8]\n" + _BODY,
    "many values": lambda d: _HEAD + "layers: [" + "relu, " * (d * 160) + "relu]\n",
    "many lines": lambda d: _HEAD + "layers:\n" + "  - relu\n" * (d * 20),
    "multi documents": lambda d: (_HEAD + _BODY + "---\n") * max(2, d % 5) + "...\n",
    "empty documents": lambda d: "---\n" * (d % 7),
    "big int": lambda d: _HEAD + f"layers:\n  - linear: {'7' * (d * 10)}\n",
    "big input": lambda d: f"input: [{'9' * (d * 10)}, 8, 8]\n" + _BODY,
    "deep list input": lambda d: "input: " + "[" * d + "1" + "]" * d + "\n" + _BODY,
    "tab indent": lambda d: _HEAD + "layers:\n\t- relu\n",
    "bom": lambda d: "\ufeff" + _HEAD + _BODY,
    "directive": lambda d: (
        ("%YAML 1.1\n", "%YAML 2.0\n", "%TAG ! tag:x,1:\n")[d % 3] + "---\n" + _HEAD + _BODY
    ),
    "complex key": lambda d: _HEAD + "? [a, b]\n: 1\n" + _BODY,
    "null key": lambda d: _HEAD + "~: 1\n" + _BODY,
    "int key": lambda d: _HEAD + "layers:\n  - 3: {out: 3}\n",
    "duplicate keys": lambda d: _HEAD + _BODY + _BODY,
    "timestamp": lambda d: "name: 2001-12-14\ninput: [1, 8, 8]\n" + _BODY,
    "scalar document": lambda d: ("relu\n", "null\n", "[]\n", "42\n", "''\n", "- a\n")[d % 6],
    "unclosed flow": lambda d: _HEAD + "layers: [relu, {linear: " + "[" * (d % 50) + "\n",
    "bad indentation": lambda d: _HEAD + "layers:\n  - relu\n - flatten\n   - linear: 3\n",
}

_TAGS = (
    "!!python/object/apply:os.system ['echo hi']",
    "!!python/name:os.system",
    "!custom 3",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "!!str 3",
    "!!int '3'",
    "!!float '1e400'",
    "!!int 99999999999999999999999",
    "!<tag:yaml.org,2002:str> relu",
    "!!map {a: 1}",
    "!!null ''",
    "!!bool yes",
)


@st.composite
def yaml_features(draw: st.DrawFn) -> str:
    """Raw YAML at the parser's edges: deep flow/block nesting, anchors, tags, multi-docs, size."""
    if draw(st.integers(0, 3)) == 0:
        tag = draw(st.sampled_from(_TAGS))
        slot = draw(st.sampled_from(("name", "input", "layer", "arg", "layers")))
        if slot == "name":
            return f"name: {tag}\ninput: [1, 8, 8]\n" + _BODY
        if slot == "input":
            return f"input: {tag}\n" + _BODY
        if slot == "layer":
            return _HEAD + f"layers:\n  - {tag}\n"
        if slot == "arg":
            return _HEAD + f"layers:\n  - flatten\n  - linear: {{out: {tag}}}\n"
        return _HEAD + f"layers: {tag}\n"
    name = draw(st.sampled_from(sorted(_FEATURES)))
    size = draw(st.sampled_from((1, 3, 10, 150, 199, 200, 201, 500, 1_000, 3_000, 10_000)))
    return _FEATURES[name](size)


@st.composite
def raw_bytes(draw: st.DrawFn) -> bytes:
    """Bytes that are not clean UTF-8 text: other encodings, stray bytes, binary noise."""
    spec = (_HEAD + _BODY).encode()
    how = draw(st.sampled_from(("latin1", "utf16", "stray", "noise", "truncated", "nul")))
    if how == "latin1":
        return spec.replace(b"fuzz", "caf\xe9".encode("latin-1"))
    if how == "utf16":
        return (_HEAD + _BODY).encode("utf-16")
    if how == "stray":
        at = draw(st.integers(0, len(spec)))
        return spec[:at] + draw(st.sampled_from((b"\xff", b"\xc3", b"\xed\xa0\x80"))) + spec[at:]
    if how == "nul":
        at = draw(st.integers(0, len(spec)))
        return spec[:at] + b"\x00" + spec[at:]
    if how == "truncated":
        return "name: é\n".encode()[:-2]
    return draw(st.binary(min_size=0, max_size=64))


def hostile_specs() -> dict[str, str | bytes]:
    """Hand-written texts for each escape class the fuzzer has found: regression cases.

    Each is as short as its class allows; the name says what it attacks.
    """
    head = "input: [1, 8, 8]\n"

    def chain(length: int, shape: str) -> str:
        blocks = _block_chain(length, shape)
        return dump({"input": [1, 8, 8], "blocks": blocks, "layers": [{"b0": {"c": 4}}]})

    return {
        "block chain 1,000 deep": chain(1_000, "chain"),
        "block cycle through 300 blocks": chain(300, "cycle"),
        "block fan-out doubling 30 times": chain(30, "fanout"),
        "repeat nested 1,000 deep": head + _nested("repeat", 1_000, block=False),
        "concat nested 70 deep": head + _nested("concat", 70, block=False),
        "flow lists nested 5,000 deep": head + "layers: " + "[" * 5_000 + "]" * 5_000 + "\n",
        "flow maps nested 5,000 deep": head + "layers: [" + "{a: " * 5_000 + "}" * 5_000 + "]\n",
        "5,000-digit int": head + f"layers: [{{linear: {'9' * 5_000}}}]\n",
        "400-digit int": head + f"layers: [{{linear: {'9' * 400}}}]\n",
        "times 2**63": head + f"layers: [{{repeat: {{times: {2**63}, layers: [relu]}}}}]\n",
        "receptive field past int64": head
        + f"layers: [{{repeat: {{times: {MAX_LAYERS}, layers: [{{conv2d: {{out: 1, kernel: 1,"
        " dilation: 2147483647, padding: 2147483647}}]}}]\n",
        "pooling at the int32 limit": "input: [1, 2147483647, 2147483647]\n"
        "layers: [{repeat: {times: 60, layers: [{maxpool2d: {kernel: 2147483647,"
        " ceil_mode: true}}]}}]\n",
        "10,000-character unknown kind": head + f"layers: [{'a' * 10_000}]\n",
        "10,000-character unknown key": head + f"layers: [{{linear: {{{'o' * 10_000}: 3}}}}]\n",
        "10,000-character spec name": f"name: {'n' * 10_000}\n" + head + "layers: [relu]\n",
        "ESC sequence in a kind": head + 'layers: ["\\e[31mrelu"]\n',
        "ESC sequence in a key": head + 'layers: [{linear: {"\\e]0;pwned\\aout": 3}}]\n',
        "ESC sequence in the spec name": 'name: "\\e[2Jx"\n' + head + "layers: [relu]\n",
        "NUL in a kind": head + "layers: [rel\x00u]\n",
        "NUL alone": "\x00",
        "bidi override in the spec name": "name: \u202eabc\n" + head + "layers: [relu]\n",
        "CR inside a key": head + 'layers: [{linear: {"o\\rut": 3}}]\n',
        "lone surrogate": (head + "name: x\n").encode() + b"\xed\xa0\x80\n",
        "flat input for scale": "input: [10]\nlayers: [relu]\n",
    }


# The strategies by name, as the test and benchmarks/fuzz.py report them.
STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "mutated_examples": mutated_examples(),
    "spec_structures": spec_structures(),
    "yaml_features": yaml_features(),
    "raw_bytes": raw_bytes(),
}


def _main(argv: Sequence[str]) -> int:  # pragma: no cover - a manual entry point
    """``python -m archcalc.testing.fuzzing FILE``: run the harness on one spec file."""
    outcome = run_case(Path(argv[0]).read_bytes())
    print(outcome.describe() or "no escapes")
    return 1 if outcome.escapes else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
