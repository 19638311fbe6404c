"""``sera serve``: the REST API and the web page (:func:`sera.serve.app.create_app`).

FastAPI and uvicorn are the ``serve`` extra: ``pip install 'sera[serve]'``. This module stays
free of imports, so the ``sera`` command can show the defaults below without loading FastAPI.
"""

#: Largest request body, in MiB (413 beyond it).
MAX_UPLOAD_MB = 20.0

#: Longest audio, in seconds (400 beyond it).
MAX_DURATION_S = 600.0

#: Requests that may wait for an inference worker (503 beyond it).
QUEUE = 64
