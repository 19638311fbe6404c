"""``sera serve``: the REST API and the web page, served by uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from sera.cli._app import app, err, fail
from sera.serve import (
    BODY_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    HOST,
    KEEP_ALIVE_S,
    MAX_CONNECTIONS,
    MAX_DURATION_S,
    MAX_EXPORT_MB,
    MAX_EXPORT_SEGMENTS,
    MAX_HEADER_BYTES,
    MAX_UPLOAD_MB,
    PORT,
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


def given_options(ctx: typer.Context) -> dict[str, object]:
    """The options set on the command line (or by SERA_TOKEN): the others are left to
    :class:`~sera.serve.settings.ServeSettings`, which reads ``SERA_*`` variables for them."""
    # By the source's name: typer carries its own copy of click's ParameterSource.
    return {name: value for name, value in ctx.params.items()
            if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"}


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option(HOST, "--host", help="Address to listen on (0.0.0.0: every "
                                                  "interface; set --token then)."),
    port: int = typer.Option(PORT, "--port", min=1, max=65535, help="Port to listen on."),
    model_dir: Path | None = typer.Option(None, "--model", help="Model bundle directory "
                                                                "(default: the shipped model)."),
    workers: int | None = typer.Option(None, "--workers", min=1,
                                       help="Inference threads (default: one per CPU core)."),
    queue: int = typer.Option(QUEUE, "--queue", min=0, help="Requests that may wait for a "
                                                            "worker; beyond them, 503."),
    max_upload_mb: float = typer.Option(MAX_UPLOAD_MB, "--max-upload-mb",
                                        help="Largest upload in MiB; beyond it, 413."),
    max_duration_s: float = typer.Option(MAX_DURATION_S, "--max-duration",
                                         help="Longest audio in seconds; beyond it, 400."),
    max_export_mb: float = typer.Option(MAX_EXPORT_MB, "--max-export-mb",
                                        help="Largest /v1/export body in MiB; beyond it, 413."),
    max_export_segments: int = typer.Option(MAX_EXPORT_SEGMENTS, "--max-export-segments",
                                            min=1, help="Most segments in a /v1/export body; "
                                                        "beyond, 413."),
    header_timeout_s: float = typer.Option(HEADER_TIMEOUT_S, "--header-timeout", min=0.1,
                                           help="Seconds a connection may take to send a "
                                                "request's headers; then it is closed."),
    max_connections: int = typer.Option(MAX_CONNECTIONS, "--max-connections", min=1,
                                        help="Most open connections; beyond them, 503."),
    body_timeout_s: float = typer.Option(BODY_TIMEOUT_S, "--body-timeout",
                                         help="Seconds an upload may take to arrive (and 10 s "
                                              "at most without data); beyond, 408."),
    token: str | None = typer.Option(None, "--token", envvar="SERA_TOKEN",
                                     help="Require 'Authorization: Bearer TOKEN' on the API "
                                          "(the page asks for it); /v1/health stays open."),
    cors_origins: list[str] = typer.Option([], "--cors-origin",
                                           help="An origin whose pages may call the API "
                                                "(CORS; repeat for more). Default: none."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                    help="Log one line per request."),
) -> None:
    """Serve the REST API (/v1/predict, /v1/analyze; docs at /docs) and the web page (/).

    An option not given is read from SERA_<NAME> when set (SERA_WORKERS, SERA_MAX_UPLOAD_MB,
    ...; see sera.serve.settings).
    """
    try:
        import uvicorn

        from sera.serve.app import create_app
        from sera.serve.protocol import protocol_with_header_timeout
        from sera.serve.settings import ServeSettings
    except ImportError as error:
        fail(f"sera serve needs FastAPI and uvicorn ({error}): pip install 'sera[serve]'")
    settings = ServeSettings(**given_options(ctx))
    application = create_app(settings)
    warn_if_open(settings.host, settings.token)
    guarded = ", token required" if settings.token else ""
    err.print(f"serving {application.state.service.model!r} with {settings.workers} worker(s) "
              f"on http://{settings.host}:{settings.port}/ (API docs at /docs{guarded})",
              markup=False, soft_wrap=True)
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="info",
                access_log=settings.access_log,
                http=protocol_with_header_timeout(settings.header_timeout_s),
                timeout_keep_alive=KEEP_ALIVE_S, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                limit_concurrency=settings.max_connections)


def warn_if_open(host: str, token: str | None) -> None:
    """A warning on stderr when anyone who can reach ``host`` could use the API."""
    if token is None and not is_loopback(host):
        err.print(f"[yellow]warning[/yellow]: listening on {host} without a token: anyone who "
                  f"can reach this port can use the API (set --token or SERA_TOKEN)",
                  markup=True, soft_wrap=True)
