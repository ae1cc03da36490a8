"""Remote endpoints: `models`, `serve-synthetic` and `synthetic-accuracy` (docs/remote.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bench.cli import base
from bench.cli.base import escape


@click.command("models")
@click.option("-b", "--backend", required=True, help="A remote backend (groq, cerebras, openai, ...).")
@click.option("--backend-opt", "bopts", multiple=True, help="key=value backend option (e.g. base_url=...).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models_cmd(backend: str, bopts: tuple[str, ...], as_json: bool) -> None:
    """List the model ids a remote endpoint serves (GET /models)."""
    from bench.app import chat
    from bench.app.flags import last_values

    ids = chat.list_models(backend, last_values(bopts, "--backend-opt"))
    if as_json:
        base.emit_json(ids)
        return
    for model in ids:
        click.echo(model)


def _script(opts: dict[str, Any]) -> Any:
    from bench.remote import server

    ms = 1e-3
    return server.Script(
        ttft_s=opts["ttft_ms"] * ms, itl_s=opts["itl_ms"] * ms, tokens=opts["tokens"],
        tokens_per_chunk=opts["tokens_per_chunk"], jitter_s=opts["jitter_ms"] * ms,
        queue_s=opts["queue_ms"] * ms, style=opts["style"], usage=not opts["no_usage"],
        fault=opts["fault"], fault_every=opts["fault_every"], retry_after_s=opts["retry_after_s"],
        models=tuple(opts["models"]) or ("synthetic-1",), seed=opts["seed"],
    )  # fmt: skip


@click.command("serve-synthetic")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--ttft-ms", default=50.0, show_default=True, type=click.FloatRange(min=0), help="Time to first content token.")
@click.option("--itl-ms", default=5.0, show_default=True, type=click.FloatRange(min=0), help="Time between tokens.")
@click.option("--tokens", default=128, show_default=True, type=click.IntRange(min=1), help="Output tokens (max_tokens caps it).")
@click.option("--tokens-per-chunk", default=1, show_default=True, type=click.IntRange(min=1), help="Tokens in each SSE chunk.")
@click.option("--jitter-ms", default=0.0, show_default=True, type=click.FloatRange(min=0), help="Uniform ± jitter on every gap.")
@click.option("--queue-ms", default=0.0, show_default=True, type=click.FloatRange(min=0), help="Reported queue time (part of TTFT).")
@click.option("--style", type=click.Choice(["openai", "groq", "cerebras"]), default="openai", show_default=True)
@click.option("--no-usage", is_flag=True, help="Send no token usage at all.")
@click.option(
    "--fault", default="none", show_default=True,
    help="none, 401, 429, 500, cut, malformed, in_stream_error, hang, stall.",
)  # fmt: skip
@click.option("--fault-every", default=1, show_default=True, type=click.IntRange(min=1), help="Fault every Nth request.")
@click.option("--retry-after-s", default=1.0, show_default=True, help="retry-after sent with 429s.")
@click.option("--model", "models", multiple=True, help="Model id(s) served (default: synthetic-1).")
@click.option("--seed", default=0, show_default=True, help="Seed of the jitter.")
@click.option("--duration-s", default=0.0, type=click.FloatRange(min=0), help="Stop after this long (0: until Ctrl-C).")
@click.option(
    "--log", "log_path", type=click.Path(dir_okay=False, path_type=Path),
    help="Write the send log here on exit (Ctrl-C, SIGTERM or --duration-s).",
)  # fmt: skip
def serve_synthetic_cmd(
    host: str, port: int, log_path: Path | None, duration_s: float, **opts: Any
) -> None:
    """Serve a synthetic OpenAI-compatible streaming endpoint (for checks and tests; no key needed)."""
    from bench.core.errors import ConfigError
    from bench.remote import server as synthetic
    from bench.runner.clock import perf_ns

    srv = synthetic.SyntheticServer(_script(opts), None, clock=perf_ns)

    def ready() -> None:
        click.echo(f"listening on http://{host}:{srv.port}/v1", nl=True)
        sys.stdout.flush()

    try:
        synthetic.serve(srv, host, port, duration_s, ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if log_path is not None:
        log_path.write_text(json.dumps(srv.take_log()), encoding="utf-8")


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:+.0f} µs" if abs(seconds) < 1e-2 else f"{seconds * 1e3:+.2f} ms"


@click.command("synthetic-accuracy")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--log", "log_path", type=click.Path(dir_okay=False, path_type=Path),
    help="Send log written by serve-synthetic --log.",
)  # fmt: skip
@click.option(
    "--server", default="http://127.0.0.1:8765/v1", show_default=True,
    help="Or fetch the log from this server.",
)  # fmt: skip
def synthetic_accuracy_cmd(results: Path, log_path: Path | None, server: str) -> None:
    """The client's timing error: a run's stamps against the synthetic server's log of each send."""
    from rich.table import Table

    from bench.core import store
    from bench.remote import accuracy
    from bench.runner import streaming

    log = json.loads(log_path.read_text(encoding="utf-8")) if log_path else streaming.fetch_log(server)
    rows = accuracy.compare_all(store.load(results).cases, log)
    table = Table(title="client timing error vs the server's send log", title_justify="left")
    for col in ("case", "requests", "TTFT err p50", "TTFT err p99", "ITL |err| p50",
                "ITL |err| p99", "client-bound"):  # fmt: skip
        table.add_column(col)
    for a in rows:
        bound = f"yes: {a.client_bound_reason}" if a.client_bound else "no"
        table.add_row(
            escape(a.case_id.rpartition("@")[2]),  # backend/load: the rest is in the results
            str(a.requests), _us(a.ttft_error_median_s), _us(a.ttft_error_p99_s),
            _us(a.itl_error_median_s), _us(a.itl_error_p99_s), escape(bound),
        )  # fmt: skip
    base.out().print(table)
