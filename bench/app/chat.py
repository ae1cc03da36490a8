"""Orchestration of a chat run against remote endpoints: suite, preflight, record, execute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import backends as registry
from bench.app import runs
from bench.core import config as configmod
from bench.core import records, store
from bench.core.errors import ConfigError
from bench.core.params import check_keys
from bench.remote import chat


def is_chat_run(configs: Sequence[Path], workload: str | None) -> bool:
    """True when `run` is handed a chat suite (or `-w chat`): the streaming runner runs it."""
    if workload == chat.WORKLOAD:
        return True
    return bool(configs) and workload is None and chat.is_chat_config(configs[0])


def _file_backends(data: Mapping[str, Any]) -> list[str]:
    named = list(data.get("run", {}).get("backends", []) or [])
    for case in data.get("case", []):
        if isinstance(case, dict):
            named += list(case.get("backends", []) or [])
    return list(dict.fromkeys(named))


def chat_suite(req: runs.RunRequest) -> chat.ChatSuite:
    """A chat suite from a file, or from `-w chat` with -p (workload and load params alike)."""
    if req.configs:
        path = req.configs[0]
        data, source = configmod.read_toml(path), str(path)
    else:
        loads = {p.name for p in chat.LOAD_PARAMS}
        flat = {k: v if len(v) > 1 else v[0] for k, v in req.params.items()}
        case = {
            "workload": chat.WORKLOAD,
            "params": {k: v for k, v in flat.items() if k not in loads},
            "load": {k: v for k, v in flat.items() if k in loads},
        }
        data, source = {"case": [case]}, f"-w {chat.WORKLOAD}"
    chosen = list(req.backends) or _file_backends(data)
    check_keys(chosen, set(registry.names()), "", "backend")
    options = {k: dict(v) for k, v in data.get("backend_options", {}).items()}
    for name, opts in runs.route_backend_options(req.backend_opts, chosen).items():
        options.setdefault(name, {}).update(opts)
    return chat.parse_suite(
        {**data, "backend_options": options}, source, list(req.backends) or None
    )


@dataclass(frozen=True)
class ChatPlan:
    suite: chat.ChatSuite
    notes: list[str]


def plan_chat(req: runs.RunRequest) -> ChatPlan:
    """The suite and the preflight checks (key present, endpoint up, model served)."""
    from bench.runner import streaming

    suite = chat_suite(req)
    return ChatPlan(suite, streaming.preflight(suite.cases))


def chat_record(suite: chat.ChatSuite, command: str) -> records.RunRecord:
    described = {c.backend: registry.describe(c.backend, dict(c.options)) for c in suite.cases}
    return runs.new_record("chat", command, suite.source, suite.seed, suite.cases, described)


def run_chat(
    plan: ChatPlan, command: str, out_dir: Path, progress: runs.Progress | None = None
) -> tuple[records.RunRecord, Path]:
    """Measure a planned chat suite into a new results file in `out_dir`."""
    from bench.runner import streaming

    out = store.prepare_dir(out_dir)
    record = chat_record(plan.suite, command)
    path = store.run_path(out, record)
    session = streaming.StreamSession(plan.suite.seed, plan.suite.base)
    return runs.execute(record, plan.suite.cases, session, path, progress), path


def list_models(backend: str, options: Mapping[str, str]) -> list[str]:
    """The model ids a remote endpoint serves; a local backend is a usage error."""
    from bench.runner import streaming

    check_keys([backend], set(registry.names()), "", "backend")
    instance = registry.create(backend, dict(options))
    if getattr(instance, "local", False):
        remote = [s.name for s in runs.backend_statuses() if not s.local]
        raise ConfigError(
            f"backend '{backend}' is local: `models` lists what a remote endpoint serves "
            f"(remote backends: {', '.join(remote)})"
        )
    avail = instance.probe()
    if not avail.ok:
        raise ConfigError(f"backend '{backend}' cannot run: {avail.reason}")
    return list(streaming.list_models(backend, dict(options)))
