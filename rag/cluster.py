"""Embedding on a Ray cluster (`rag index --ray [ADDRESS]`, `pip install 'rag-vi[cluster]'`).

The chunks' texts become a Ray Data dataset; `map_batches` runs them through a pool of
actors, each loading the configured embedder once (from the same models folder: every
node needs the models installed where the settings say) and embedding with one thread on
one CPU. The vectors come back with their row numbers and are put in order; an actor whose
embedder differs from the one the index is built with (another model file, another
runtime) refuses to start, so an index never mixes two. The store is written as without
Ray (`rag.indexing`).

Without an address, a Ray is started in this process on this machine's cores, reachable
from 127.0.0.1 only (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, which Ray reads when imported:
otherwise it binds every address and advertises the machine's own) with a token of its
own (no ~/.ray/auth_token written), and stopped at the end. With an address, the cluster
is the user's: its token, if it wants one, comes from RAY_AUTH_TOKEN as Ray documents.
This module only embeds; it does not chunk, store or decide what changed.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.config import Settings
from rag.embed import Embedder
from rag.errors import ConfigError
from rag.progress import Progress

INSTALL = "pip install 'rag-vi[cluster]'"
BATCH = 64  # texts per actor call: the embedder batches them itself; small enough that progress moves
LOCAL = "local"


class Embed:
    """One actor: the configured embedder, loaded once, one thread (Ray gives the actor one CPU)."""

    def __init__(self, settings: Settings, fingerprint: str) -> None:
        from rag import embed

        self.embedder = embed.from_settings(settings.model_copy(update={"n_threads": 1}))
        if self.embedder.fingerprint != fingerprint:
            raise ConfigError(
                f"this Ray worker's embedder is {self.embedder.fingerprint}, the index's {fingerprint}: "
                "install the same models on every node (`rag models install`)."
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]], "passage")
        return {"row": batch["row"], "vector": vectors}


def _ray() -> Any:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before the import: loopback only
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError(f"--ray needs Ray: {INSTALL}.") from None
    return ray


def start(address: str, settings: Settings) -> Any:
    """Connect to the cluster at `address`, or start one here ("local"); Ray's module, initialised."""
    if address == LOCAL and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"  # Ray's default for a new cluster, with a token for this run only
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # the driver's core worker: no warnings on stderr
    ray = _ray()
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": True}
    try:
        if address == LOCAL:
            ray.init(num_cpus=settings.n_threads, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address} ({exc}); check the address.") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def embed_on_ray(
    texts: Sequence[str],
    embedder: Embedder,
    settings: Settings,
    address: str,
    progress: Progress,
    workers: int | None = None,
) -> np.ndarray:
    """The passages' vectors, in order, embedded by `workers` actors (default: one per CPU of the cluster)."""
    ray = start(address, settings)
    try:
        workers = workers or settings.ray_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        progress.step(f"embedding {len(texts)} chunks on Ray ({workers} workers)", total=len(texts), unit="chunks")
        dataset = ray.data.from_items(
            [{"row": i, "text": t} for i, t in enumerate(texts)],
            override_num_blocks=max(1, min(len(texts), 8 * workers)),  # a few blocks a worker: little overhead
        )
        embedded = dataset.map_batches(
            Embed,
            fn_constructor_kwargs={"settings": settings, "fingerprint": embedder.fingerprint},
            compute=ray.data.ActorPoolStrategy(size=workers),
            batch_size=BATCH,
            batch_format="numpy",
            num_cpus=1,
        )
        vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        seen = np.zeros(len(texts), dtype=bool)
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            vectors[batch["row"]] = batch["vector"]
            seen[batch["row"]] = True
            progress.advance(len(batch["row"]))
        if not seen.all():
            raise ConfigError(f"the Ray cluster returned {int(seen.sum())} of {len(texts)} vectors; run again.")
        return vectors
    except ray.exceptions.RayError as exc:
        cause = exc.cause if isinstance(getattr(exc, "cause", None), ConfigError) else None
        if cause is not None:
            raise cause from None
        raise ConfigError(f"embedding on Ray failed: {str(exc).strip().splitlines()[-1]}") from None
    finally:
        ray.shutdown()
