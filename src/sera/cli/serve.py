"""``sera serve``: the REST API and the web page, served by uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from sera.cli._app import app, err, print_error
from sera.serve import (
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    MAX_CONNECTIONS,
    MAX_DURATION_S,
    MAX_EXPORT_MB,
    MAX_EXPORT_SEGMENTS,
    MAX_HEADER_BYTES,
    MAX_UPLOAD_MB,
    QUEUE,
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every "
                                                         "interface; set --token then)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    model_dir: Path | None = typer.Option(None, "--model", help="Model bundle directory "
                                                                "(default: the shipped model)."),
    workers: int | None = typer.Option(None, "--workers", min=1,
                                       help="Inference threads (default: one per CPU core)."),
    queue: int = typer.Option(QUEUE, "--queue", min=0, help="Requests that may wait for a "
                                                            "worker; beyond them, 503."),
    max_upload_mb: float = typer.Option(MAX_UPLOAD_MB, "--max-upload-mb",
                                        help="Largest upload in MiB; beyond it, 413."),
    max_duration: float = typer.Option(MAX_DURATION_S, "--max-duration",
                                       help="Longest audio in seconds; beyond it, 400."),
    max_export_mb: float = typer.Option(MAX_EXPORT_MB, "--max-export-mb",
                                        help="Largest /v1/export body in MiB; beyond it, 413."),
    max_export_segments: int = typer.Option(MAX_EXPORT_SEGMENTS, "--max-export-segments",
                                            min=1, help="Most segments in a /v1/export body; "
                                                        "beyond, 413."),
    header_timeout: float = typer.Option(HEADER_TIMEOUT_S, "--header-timeout", min=0.1,
                                         help="Seconds a connection may take to send a "
                                              "request's headers; then it is closed."),
    max_connections: int = typer.Option(MAX_CONNECTIONS, "--max-connections", min=1,
                                        help="Most open connections; beyond them, 503."),
    body_timeout: float = typer.Option(60.0, "--body-timeout",
                                       help="Seconds an upload may take to arrive (and 10 s at "
                                            "most without data); beyond, 408."),
    token: str | None = typer.Option(None, "--token", envvar="SERA_TOKEN",
                                     help="Require 'Authorization: Bearer TOKEN' on the API "
                                          "(the page asks for it); /v1/health stays open."),
    cors_origins: list[str] = typer.Option([], "--cors-origin",
                                           help="An origin whose pages may call the API "
                                                "(CORS; repeat for more). Default: none."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                    help="Log one line per request."),
) -> None:
    """Serve the REST API (/v1/predict, /v1/analyze; docs at /docs) and the web page (/)."""
    try:
        import uvicorn

        from sera.serve.app import create_app
        from sera.serve.protocol import protocol_with_header_timeout
    except ImportError as error:
        err.print(f"[red]error[/red]: sera serve needs FastAPI and uvicorn ({error}): "
                  f"pip install 'sera[serve]'", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        application = create_app(model_dir, max_upload_mb=max_upload_mb,
                                 max_duration_s=max_duration, workers=workers, queue=queue,
                                 token=token, cors_origins=cors_origins,
                                 body_idle_s=min(10.0, body_timeout),
                                 body_timeout_s=body_timeout, max_export_mb=max_export_mb,
                                 max_export_segments=max_export_segments)
    except ValueError as error:
        print_error(error)
        raise typer.Exit(1) from None
    if token is None and not is_loopback(host):
        err.print(f"[yellow]warning[/yellow]: listening on {host} without a token: anyone who "
                  f"can reach this port can use the API (set --token or SERA_TOKEN)",
                  markup=True, soft_wrap=True)
    pool = application.state.pool
    guarded = ", token required" if token else ""
    err.print(f"serving {application.state.model!r} with {pool.workers} worker(s) on "
              f"http://{host}:{port}/ (API docs at /docs{guarded})", markup=False,
              soft_wrap=True)
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=access_log,
                http=protocol_with_header_timeout(header_timeout),
                timeout_keep_alive=KEEP_ALIVE_S, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                limit_concurrency=max_connections)
