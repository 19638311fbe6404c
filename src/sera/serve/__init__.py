"""``sera serve``: the REST API and the web page (:func:`sera.serve.app.create_app`).

FastAPI and uvicorn are the ``serve`` extra: ``pip install 'sera[serve]'``. This module stays
free of imports, so the ``sera`` command can show the defaults below without loading FastAPI;
:class:`sera.serve.settings.ServeSettings` takes its defaults from here.
"""

#: Where the server listens by default: this machine only.
HOST = "127.0.0.1"
PORT = 8000

#: Largest request body, in MiB (413 beyond it).
MAX_UPLOAD_MB = 20.0

#: Longest audio, in seconds (400 beyond it).
MAX_DURATION_S = 600.0

#: Requests that may wait for an inference worker (503 beyond it).
QUEUE = 64

#: Largest ``/v1/export`` body, in MiB, and most segments in it (413 beyond either): about
#: 25 hours of conversation, formatted in well under a second.
MAX_EXPORT_MB = 8.0
MAX_EXPORT_SEGMENTS = 20_000

#: Seconds a request body may wait for its next piece, and take in all (408 beyond either).
BODY_IDLE_S = 10.0
BODY_TIMEOUT_S = 60.0

#: Seconds a connection may take to send a request's headers (then it is closed), seconds an
#: idle keep-alive connection is kept, largest request head in bytes, and most connections
#: at once (503 beyond): ``sera serve``'s defences against slow or piled-up clients.
HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16384
MAX_CONNECTIONS = 256
