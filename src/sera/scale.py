"""Dask clusters for work that outgrows one machine.

Only imported when a command is given a Dask address (``--dask ADDRESS``), so the local
default (a process pool) never imports Dask.

``client_for(address)`` connects to a running scheduler (``"tcp://host:port"``) or, for
``"local"``, starts a :class:`distributed.LocalCluster` of two single-threaded worker processes
for the time of the ``with`` block. Every worker of a real cluster needs sera installed and the
audio files at the same paths as the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sera.errors import DaskError, first_line

#: The address that starts a LocalCluster instead of connecting to a scheduler.
LOCAL = "local"

#: Workers and threads of the LocalCluster that ``"local"`` starts.
LOCAL_WORKERS = 2
LOCAL_THREADS_PER_WORKER = 1

#: Seconds to wait for a scheduler to answer, and for it to have at least one worker.
CONNECT_TIMEOUT = 20.0


@contextmanager
def client_for(address: str) -> Iterator:
    """A ``distributed.Client`` for ``address``, closed (with any cluster it started) at exit.

    Parameters
    ----------
    address : str
        ``"local"`` (start a LocalCluster: 2 worker processes, 1 thread each) or a scheduler
        address such as ``"tcp://10.0.0.5:8786"``.

    Raises
    ------
    DaskError
        The scheduler cannot be reached, or has no worker within :data:`CONNECT_TIMEOUT`.
    """
    from dask.distributed import Client, LocalCluster

    if address == LOCAL:
        # Any free port for the scheduler's HTTP server: the fixed default (8787) collides
        # between runs on a shared machine.
        with (LocalCluster(n_workers=LOCAL_WORKERS, threads_per_worker=LOCAL_THREADS_PER_WORKER,
                           processes=True, dashboard_address=":0") as cluster,
              Client(cluster) as client):
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as err:
        raise DaskError(f"cannot reach the Dask scheduler at {address!r}: "
                        f"{first_line(err)}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise DaskError(f"the Dask scheduler at {address!r} has no workers "
                            f"(start some with `dask worker {address}`)") from None
        yield client


def parallelism(client) -> int:
    """Tasks the cluster runs at once: its worker threads (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def map_unordered(client, function, items: list, *args, in_flight: int) -> Iterator:
    """``function(*args, item)`` for each item on the cluster, yielded in completion order.

    At most ``in_flight`` tasks are submitted at a time, so the scheduler, the workers and this
    process hold a bounded number of pending results however many items there are.

    Raises
    ------
    DaskError
        A task raised, or the cluster lost it (a worker died too often, a worker without
        sera installed).
    """
    from dask.distributed import as_completed

    pending = iter(items)

    def submit(item):
        return client.submit(function, *args, item, pure=False)

    running = as_completed([submit(item) for _, item in zip(range(in_flight), pending,
                                                               strict=False)])
    for future in running:
        try:
            result = future.result()
        except Exception as err:
            raise DaskError(f"a Dask task failed: {type(err).__name__}: {first_line(err)} "
                            f"(does every worker have sera installed and the files?)") from None
        finally:
            future.release()
        following = next(pending, None)
        if following is not None:
            running.add(submit(following))
        yield result

