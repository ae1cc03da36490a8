"""The `chat` workload for remote endpoints: params, load scenarios, prompt sources, suites."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from bench.core import params as paramsmod
from bench.core.config import read_toml
from bench.core.errors import ConfigError
from bench.core.params import check_keys
from bench.core.workloads import Param

WORKLOAD = "chat"
Scenario = Literal["concurrency", "rate", "sweep"]
Arrival = Literal["constant", "poisson"]
On429 = Literal["count", "backoff", "stop"]

CHAT_PARAMS: tuple[Param, ...] = (
    Param("prompts", "synthetic", str, doc="'synthetic' or a JSONL file of prompts"),
    Param(
        "input_tokens", 128, int, "tokens", "synthetic prompt length (about a word each)", minimum=1
    ),
    Param("prompt_pool", 64, int, doc="distinct synthetic prompts, cycled", minimum=1),
    Param("max_tokens", 128, int, "tokens", "output limit per request", minimum=1),
    Param("temperature", 0.0, float, minimum=0.0),
    Param("nonce", False, bool, doc="a unique prefix per request, to defeat prefix caches"),
    Param("canary", "", str, doc="a substring every answer must contain (empty: no check)"),
)

LOAD_PARAMS: tuple[Param, ...] = (
    Param("scenario", "concurrency", str, choices=("concurrency", "rate", "sweep")),
    Param("concurrency", 1, int, "requests", "in flight at once (closed loop)", minimum=1),
    Param("rate_per_s", 0.0, float, "requests/s", "open-loop arrival rate", minimum=0.0),
    Param("arrival", "poisson", str, choices=("constant", "poisson")),
    Param("requests", 100, int, doc="measured requests (0: bounded by duration only)", minimum=0),
    Param(
        "duration_s", 0.0, float, "s", "issue no new request after this (0: no limit)", minimum=0.0
    ),
    Param("warmup_requests", 0, int, doc="sent first, excluded from statistics", minimum=0),
    Param(
        "on_429",
        "count",
        str,
        doc="count and go on, back off, or stop",
        choices=("count", "backoff", "stop"),
    ),
    Param("slo_ttft_ms", 500.0, float, "ms", "goodput bound on TTFT", minimum=0.0),
    Param("slo_tpot_ms", 30.0, float, "ms", "goodput bound on TPOT", minimum=0.0),
    Param(
        "lag_limit_ms", 2.0, float, "ms", "event-loop lag p99 above which the client set the pace"
    ),
    Param("cpu_limit", 0.9, float, "cores", "client CPU above which the client set the pace"),
    Param("drain_s", 60.0, float, "s", "grace for in-flight requests after the last is issued"),
    Param(
        "max_failed_fraction", 0.0, float, doc="share of measured requests allowed to fail"
        " before the case fails (0: any failure fails it)", minimum=0.0,
    ),
)


def resolve(spec: tuple[Param, ...], given: Mapping[str, Any], owner: str) -> Mapping[str, Any]:
    """Defaults plus `given`, each coerced by its Param; unknown keys name the known ones."""
    return paramsmod.resolve(spec, given, owner)


@dataclass(frozen=True)
class Load:
    """How requests are issued, bounded and judged (one point of a sweep)."""

    mode: Literal["concurrency", "rate"]
    concurrency: int = 1
    rate_per_s: float = 0.0
    arrival: Arrival = "poisson"
    requests: int = 100
    duration_s: float = 0.0
    warmup_requests: int = 0
    on_429: On429 = "count"
    slo_ttft_s: float = 0.5
    slo_tpot_s: float = 0.03
    lag_limit_s: float = 0.002
    cpu_limit: float = 0.9
    drain_s: float = 60.0
    seed: int = 0
    max_failed_fraction: float = 0.0

    @property
    def label(self) -> str:
        if self.mode == "concurrency":
            return f"concurrency={self.concurrency}"
        return f"rate={self.rate_per_s:g}/s {self.arrival}"


def loads(table: Mapping[str, Any], seed: int, owner: str) -> list[Load]:
    """The [[case]] `load` table to one Load per sweep point (a list value is a sweep)."""
    sweep = {k: v for k, v in table.items() if isinstance(v, list)}
    fixed = {k: v for k, v in table.items() if not isinstance(v, list)}
    if len(sweep) > 1:
        raise ConfigError(
            f"{owner}: sweep one of concurrency or rate_per_s at a time, not {sorted(sweep)}"
        )
    points = [{}] if not sweep else [{k: v} for k, vs in sweep.items() for v in vs]
    return [_load(resolve(LOAD_PARAMS, {**fixed, **p}, owner), seed, owner, sweep) for p in points]


def _load(v: Mapping[str, Any], seed: int, owner: str, sweep: Mapping[str, Any]) -> Load:
    mode = v["scenario"]
    if mode == "sweep":
        if not sweep:
            raise ConfigError(
                f"{owner}: scenario 'sweep' needs a list of concurrency or rate_per_s"
            )
        mode = "rate" if "rate_per_s" in sweep else "concurrency"
    if mode == "rate" and v["rate_per_s"] <= 0:
        raise ConfigError(f"{owner}: scenario 'rate' needs rate_per_s > 0")
    if v["requests"] == 0 and v["duration_s"] == 0:
        raise ConfigError(f"{owner}: set requests or duration_s (or both): a run must be bounded")
    ms = 1e-3
    return Load(
        mode, v["concurrency"], v["rate_per_s"], v["arrival"], v["requests"], v["duration_s"],
        v["warmup_requests"], v["on_429"], v["slo_ttft_ms"] * ms, v["slo_tpot_ms"] * ms,
        v["lag_limit_ms"] * ms, v["cpu_limit"], v["drain_s"], seed, v["max_failed_fraction"],
    )  # fmt: skip


_VOCAB = tuple(
    [
        "time",
        "system",
        "data",
        "model",
        "light",
        "river",
        "stone",
        "number",
        "table",
        "window",
        "garden",
        "paper",
        "music",
        "signal",
        "north",
        "winter",
        "market",
        "engine",
        "bridge",
        "forest",
        "silver",
        "letter",
        "motion",
        "planet",
        "harbor",
        "circle",
        "field",
        "storm",
        "metal",
        "voice",
        "orbit",
        "candle",
        "valley",
        "shadow",
        "pattern",
        "energy",
        "island",
        "wheel",
        "crystal",
        "summer",
        "thread",
        "mirror",
        "anchor",
        "canvas",
        "rocket",
        "marble",
        "ladder",
        "meadow",
        "copper",
        "falcon",
        "lantern",
        "cotton",
        "glacier",
        "ember",
        "velvet",
        "quartz",
        "prairie",
        "tunnel",
        "beacon",
        "compass",
    ]
)


@dataclass(frozen=True)
class Prompt:
    """One prompt: chat messages and, from a JSONL file, an optional expected substring."""

    messages: tuple[Mapping[str, Any], ...]
    expected: str = ""


def synthetic_prompts(count: int, input_tokens: int, seed: int) -> list[Prompt]:
    """Seeded word prompts of `input_tokens` words (about a token each on common tokenizers)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = " ".join(rng.choices(_VOCAB, k=input_tokens))
        out.append(Prompt(({"role": "user", "content": text},)))
    return out


def _jsonl_line(line: str, where: str) -> Prompt:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON ({exc.msg})") from None
    if isinstance(obj, dict) and isinstance(obj.get("messages"), list):
        messages = tuple(obj["messages"])
    elif isinstance(obj, dict) and isinstance(obj.get("prompt"), str):
        messages = ({"role": "user", "content": obj["prompt"]},)
    else:
        raise ConfigError(f"{where}: needs a 'prompt' string or a 'messages' list")
    return Prompt(messages, str(obj.get("expected", "")))


def jsonl_prompts(path: Path) -> list[Prompt]:
    """One prompt per non-empty line: {"prompt": ...} or {"messages": [...]}, optional "expected"."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"prompts file {path}: cannot read it ({exc.strerror})") from None
    prompts = [_jsonl_line(x, f"{path}:{i + 1}") for i, x in enumerate(lines) if x.strip()]
    if not prompts:
        raise ConfigError(f"prompts file {path}: no prompts in it")
    return prompts


def prompts_for(params: Mapping[str, Any], seed: int, base: Path) -> list[Prompt]:
    if params["prompts"] == "synthetic":
        return synthetic_prompts(params["prompt_pool"], params["input_tokens"], seed)
    path = Path(params["prompts"])
    return jsonl_prompts(path if path.is_absolute() else base / path)


def request_fields(
    prompt: Prompt, params: Mapping[str, Any], index: int, seed: int
) -> dict[str, Any]:
    """The workload's part of a request body; the backend adds model, streaming and quirks."""
    messages = [dict(m) for m in prompt.messages]
    if params["nonce"] and messages:  # at the very start, so no cached prefix is shared
        first = messages[0]
        first["content"] = f"[{seed:x}-{index:x}] {first.get('content', '')}"
    return {
        "messages": messages,
        "max_tokens": params["max_tokens"],
        "temperature": params["temperature"],
    }


def expected_text(prompt: Prompt, params: Mapping[str, Any]) -> str:
    return prompt.expected or params["canary"]


@dataclass(frozen=True)
class ChatCase:
    """One planned chat case: workload params, one load point, one backend."""

    params: Mapping[str, Any]
    load: Load
    backend: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def case_id(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.params.items() if v not in ("", False))
        return f"chat[{shown}]@{self.backend}/{self.load.label}"


@dataclass(frozen=True)
class ChatSuite:
    name: str
    source: str
    seed: int
    cases: tuple[ChatCase, ...]
    base: Path = Path(".")


_TOP = {"run", "backend_options", "case"}
_RUN = {"name", "seed", "backends"}
_CASE = {"workload", "params", "load", "backends"}


def is_chat_config(path: str | Path) -> bool:
    """True when a suite file's cases are chat cases (run by the streaming runner)."""
    cases = read_toml(Path(path)).get("case", [])
    return any(isinstance(c, dict) and c.get("workload") == WORKLOAD for c in cases)


def _sweep(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product over list-valued params (a list is a sweep), as local suites do."""
    keys = list(params)
    values = [v if isinstance(v, list) else [v] for v in params.values()]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def _cases(
    table: Any, i: int, suite: Mapping[str, Any], pick: Sequence[str] | None
) -> list[ChatCase]:
    here = f"{suite['source']}: case #{i + 1}"
    if not isinstance(table, dict) or table.get("workload") != WORKLOAD:
        raise ConfigError(
            f"{here}: only 'chat' cases can share a suite with chat cases;"
            " put local workloads in their own file"
        )
    check_keys(table, _CASE, here)
    names = list(pick or table.get("backends") or suite["backends"] or [])
    if not names:
        raise ConfigError(f"{here}: no backend: set [run] backends or pass --backend")
    out = []
    for combo in _sweep(dict(table.get("params", {}))):
        params = resolve(CHAT_PARAMS, combo, here)
        for load in loads(dict(table.get("load", {})), suite["seed"], here):
            for name in names:
                options = MappingProxyType(dict(suite["options"].get(name, {})))
                out.append(ChatCase(params, load, name, options))
    return out


def parse_suite(
    data: Mapping[str, Any], source: str, backends: Sequence[str] | None = None
) -> ChatSuite:
    """A ChatSuite from decoded TOML; `backends` (from --backend) overrides the file's."""
    check_keys(data, _TOP, source)
    run = data.get("run", {})
    check_keys(run, _RUN, f"{source}: [run]")
    suite = {
        "source": source,
        "seed": int(run.get("seed", 0)),
        "backends": run.get("backends"),
        "options": data.get("backend_options", {}),
    }
    tables = data.get("case", [])
    cases = [c for i, t in enumerate(tables) for c in _cases(t, i, suite, backends)]
    if not cases:
        raise ConfigError(f"{source}: no [[case]] tables: nothing to run")
    name = str(run.get("name", Path(source).stem))
    return ChatSuite(name, source, suite["seed"], tuple(cases), Path(source).parent)


def load_suite(path: str | Path, backends: Sequence[str] | None = None) -> ChatSuite:
    path = Path(path)
    return parse_suite(read_toml(path), str(path), backends)
