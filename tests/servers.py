"""OpenAI-style streaming endpoints on servers this project did not write, each with its own send log."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

MODEL = "conf-1"


@dataclass(frozen=True)
class Script:
    """What every response streams: `tokens` content chunks, one slow gap before chunk `slow_at`."""

    tokens: int = 6
    ttft_s: float = 0.02
    itl_s: float = 0.004
    slow_at: int = 3
    slow_s: float = 0.05
    finish: bool = True  # a finish_reason and [DONE] at the end (False: a truncated stream)

    def chunks(self, rid: str) -> Iterator[tuple[float, bytes, bool]]:
        """(delay before, SSE bytes, carries content) in send order."""
        yield 0.0, _event({"id": rid, "choices": [{"delta": {"role": "assistant"}}]}), False
        for i in range(self.tokens):
            delay = self.ttft_s if i == 0 else self.slow_s if i == self.slow_at else self.itl_s
            yield delay, _event({"id": rid, "choices": [{"delta": {"content": f"t{i} "}}]}), True
        if self.finish:
            last = {"id": rid, "choices": [{"delta": {}, "finish_reason": "stop"}]}
            usage = {"prompt_tokens": 8, "completion_tokens": self.tokens}
            yield 0.0, _event(last) + _event({"id": rid, "choices": [], "usage": usage}), False
            yield 0.0, b"data: [DONE]\n\n", False


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


@dataclass
class SendLog:
    """The server's own clock (perf_counter_ns, the client's clock too: same process)."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0

    def begin(self, host: str) -> str:
        with self.lock:
            self.count += 1
            rid = f"chatcmpl-{self.count}"
            self.entries[rid] = {"recv_ns": time.perf_counter_ns(), "content_ns": []}
            self.hosts.append(host)
        return rid

    def sent(self, rid: str, content: bool) -> None:
        if content:
            self.entries[rid]["content_ns"].append(time.perf_counter_ns())


MODELS = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()


# --- Starlette (under uvicorn) ---


def starlette_app(script: Script, log: SendLog) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def models(request: Request) -> Response:
        return Response(MODELS, media_type="application/json")

    async def chat(request: Request) -> StreamingResponse:
        await request.body()
        rid = log.begin(request.headers.get("host", ""))

        async def body() -> Any:
            for delay, data, content in script.chunks(rid):
                await asyncio.sleep(delay)
                log.sent(rid, content)
                yield data

        return StreamingResponse(body(), media_type="text/event-stream")

    routes = [Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"])]
    return Starlette(routes=routes)


@contextmanager
def uvicorn_server(script: Script, http: str = "h11") -> Iterator[tuple[str, SendLog]]:
    """uvicorn with the `http` implementation ('h11' or 'httptools') on 127.0.0.1."""
    import uvicorn

    log = SendLog()
    config = uvicorn.Config(
        starlette_app(script, log), http=http, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started)
        yield f"http://127.0.0.1:{port}/v1", log
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# --- aiohttp.web (optionally over TLS) ---


@contextmanager
def aiohttp_server(
    script: Script,
    tls: ssl.SSLContext | None = None,
    host: str = "127.0.0.1",
    compress: bool = False,
) -> Iterator[tuple[str, SendLog]]:
    """aiohttp.web on `host`; `compress`: gzip the whole stream although identity was asked."""
    from aiohttp import web

    log = SendLog()

    async def models(request: web.Request) -> web.Response:
        return web.Response(body=MODELS, content_type="application/json")

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        rid = log.begin(request.headers.get("host", ""))
        if compress:
            body = b"".join(data for _, data, _ in script.chunks(rid))
            headers = {"content-encoding": "gzip", "content-type": "text/event-stream"}
            return web.Response(body=gzip.compress(body), headers=headers)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for delay, data, content in script.chunks(rid):
            await asyncio.sleep(delay)
            log.sent(rid, content)
            await response.write(data)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, host, 0, ssl_context=tls)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    scheme, shown = ("https" if tls else "http"), (f"[{host}]" if ":" in host else host)
    try:
        yield f"{scheme}://{shown}:{port}/v1", log
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# --- Python's http.server ---


def _handler(script: Script, log: SendLog, version: str, framed: bool, drop_next: bool) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = version
        served = 0

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def do_GET(self) -> None:
            self._answer(MODELS, "application/json")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            if drop_next and self.served:  # a keep-alive limit of one: the next is dropped
                self.close_connection = True
                return
            self.served += 1
            rid = log.begin(self.headers.get("host", ""))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            if framed:  # its length said, then a close nobody announced (no `connection: close`)
                size = sum(len(d) for _, d, _ in script.chunks(rid))
                self.send_header("content-length", str(size))
                self.close_connection = not drop_next
            self.end_headers()  # else no length, no chunking: the close ends the body
            for delay, data, content in script.chunks(rid):
                time.sleep(delay)
                log.sent(rid, content)
                self.wfile.write(data)
                self.wfile.flush()

        def _answer(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True  # HTTP/1.1 and no `connection: close`: unannounced

    return Handler


@contextmanager
def stdlib_server(
    script: Script, version: str = "HTTP/1.0", framed: bool = False, drop_next: bool = False
) -> Iterator[tuple[str, SendLog]]:
    """http.server: HTTP/1.0 close-delimited streams, or (`framed`) HTTP/1.1 responses with a
    content-length after each of which the server closes without saying so; `drop_next`: it
    keeps the connection open instead, reads the next request and closes without an answer."""
    log = SendLog()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), _handler(script, log, version, framed, drop_next)
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _wait(ready: Any, limit_s: float = 10.0) -> None:
    until = time.monotonic() + limit_s
    while not ready():
        if time.monotonic() > until:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)


# --- FastAPI: the error shapes OpenAI-compatible servers send ---


def fastapi_app(stall_s: float = 2.0) -> Any:
    """Each base path one behaviour: /strict (FastAPI's own 422 validation), /vllm (vLLM's
    {"object": "error"}), /moved (a 307), /sse-error (`event: error` in a 200), /stall
    (headers, one chunk, then silence), /nokey (HTTPException: {"detail": str})."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
    from pydantic import BaseModel, Field

    app = FastAPI()

    class Strict(BaseModel):
        model: str
        max_tokens: int = Field(le=4)

    async def strict(body: Strict) -> dict[str, str]:
        return {}

    # this module's postponed annotations are strings FastAPI cannot resolve for a local class
    strict.__annotations__ = {"body": Strict, "return": dict}
    app.post("/strict/v1/chat/completions")(strict)

    @app.post("/vllm/v1/chat/completions")
    async def vllm() -> JSONResponse:
        said = {"object": "error", "message": "The model `x` does not exist.", "code": 404}
        return JSONResponse(said, status_code=404)

    @app.post("/moved/v1/chat/completions")
    async def moved() -> RedirectResponse:
        return RedirectResponse("https://elsewhere.example/v1/chat/completions", 307)

    @app.get("/nokey/v1/models")
    async def nokey() -> None:
        raise HTTPException(401, "Invalid API key")

    @app.post("/sse-error/v1/chat/completions")
    async def sse_error() -> StreamingResponse:
        async def body() -> Any:
            yield b'event: error\ndata: {"message": "the engine is overloaded"}\n\n'

        return StreamingResponse(body(), media_type="text/event-stream")

    @app.post("/stall/v1/chat/completions")
    async def stall() -> StreamingResponse:
        async def body() -> Any:
            yield _event({"id": "s", "choices": [{"delta": {"role": "assistant"}}]})
            await asyncio.sleep(stall_s)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    return app


@contextmanager
def fastapi_server() -> Iterator[str]:
    """The FastAPI app under uvicorn (httptools); yields http://127.0.0.1:PORT."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(fastapi_app(), http="httptools", log_level="warning", lifespan="off")
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
