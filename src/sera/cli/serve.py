"""``sera serve``: the REST API and the web page, served by uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

from sera.cli._app import app, err
from sera.serve import MAX_DURATION_S, MAX_UPLOAD_MB, QUEUE


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every "
                                                         "interface; the API has no "
                                                         "authentication)."),
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
    access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                    help="Log one line per request."),
) -> None:
    """Serve the REST API (/v1/predict, /v1/analyze; docs at /docs) and the web page (/)."""
    try:
        import uvicorn

        from sera.serve.app import create_app
    except ImportError as error:
        err.print(f"[red]error[/red]: sera serve needs FastAPI and uvicorn ({error}): "
                  f"pip install 'sera[serve]'", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        application = create_app(model_dir, max_upload_mb=max_upload_mb,
                                 max_duration_s=max_duration, workers=workers, queue=queue)
    except ValueError as error:
        err.print(f"[red]error[/red]: {error}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    pool = application.state.pool
    err.print(f"serving {application.state.model!r} with {pool.workers} worker(s) on "
              f"http://{host}:{port}/ (API docs at /docs)", markup=False, soft_wrap=True)
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=access_log)
