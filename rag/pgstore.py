"""The index in PostgreSQL with pgvector (`RAG_DATABASE_URL`): several app instances share one.

Tables (created on the first write; `rag_` names, in the URL's database and schema):

    rag_state      one row: format, build settings, the removal record, a generation
                   counter (bumped by every write: what a following app compares), and
                   the chunk and token counts BM25 needs
    rag_documents  the cleaned documents, as JSON
    rag_chunks     the chunks, their token counts and unit vectors (`vector(d)`); an HNSW
                   index (`vector_ip_ops`) when `RAG_INDEX_HNSW`, else exact scans
    rag_terms      every BM25 term (syllable or pair, `rag.lexical`) with its document
                   frequency
    rag_postings   (term, chunk, term frequency, chunk length)

BM25 is computed in the query, exactly as `rag.lexical.BM25` does it in memory: idf from
the terms' document frequencies and the chunk count, the length normalisation from each
posting's chunk length and the average length, pairs weighted by `BIGRAM_WEIGHT` (Postgres'
`ts_rank` is not BM25). Nothing is precomputed that another write would make stale, so a
write only adds and deletes the rows of the documents it changes. One query finds a
question's candidates: the lexical and the dense top `wanted`, with both exact scores;
`rag.retrieve` fuses them as it does for the embedded store.

A write is one transaction under a session advisory lock (`lock`, the same refusal as the
embedded store's): readers see the index before it or after it, and a writer killed at any
point leaves the previous one (the server rolls the transaction back).
This module knows SQL; it does not decide what to embed (`rag.indexing`).
"""

from __future__ import annotations

import atexit
import json
import threading
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, IndexMissingError, LockedError
from rag.lexical import BIGRAM_WEIGHT, K1, B, pairs, tokenize
from rag.storage import Candidates, Change
from rag.store import FORMAT_VERSION, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, IndexSettings
from rag.types import Chunk, Document

LOCK_KEY = 0x7261_6776_6900  # "ragvi": the advisory lock of the index's writer
INSTALL = "pip install 'rag-vi[postgres]'"

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS rag_state (
    id int PRIMARY KEY CHECK (id = 1), format int NOT NULL, settings jsonb NOT NULL, removed jsonb NOT NULL,
    generation bigint NOT NULL, chunks bigint NOT NULL, tokens bigint NOT NULL);
CREATE TABLE IF NOT EXISTS rag_documents (id text PRIMARY KEY, document jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS rag_chunks (
    pos bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL UNIQUE,
    doc_id text NOT NULL REFERENCES rag_documents ON DELETE CASCADE, seq int NOT NULL,
    title text NOT NULL, date text, start int NOT NULL, "end" int NOT NULL, text text NOT NULL,
    tokens int NOT NULL, embedding vector({dim}) NOT NULL);
CREATE INDEX IF NOT EXISTS rag_chunks_doc ON rag_chunks (doc_id COLLATE "C", seq);
CREATE TABLE IF NOT EXISTS rag_terms (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, term text NOT NULL UNIQUE, df int NOT NULL);
CREATE TABLE IF NOT EXISTS rag_postings (
    term int NOT NULL, chunk bigint NOT NULL REFERENCES rag_chunks ON DELETE CASCADE,
    tf real NOT NULL, tokens int NOT NULL);
CREATE INDEX IF NOT EXISTS rag_postings_term ON rag_postings (term) INCLUDE (chunk, tf, tokens);
CREATE INDEX IF NOT EXISTS rag_postings_chunk ON rag_postings (chunk);
"""

# The candidates of a query: BM25 over the postings of its terms, the dense top by pgvector, their union with
# both scores, in index order (documents by id, chunks in document order), as the embedded store returns them.
# The terms' weights (idf × (k1 + 1), pairs scaled) come from `QUERY_TERMS`, read in the same snapshot: the
# statement then only sums postings, each a tf over its chunk's length norm (c + d × length).
QUERY_TERMS = """SELECT t.id, t.term, t.df, s.chunks, s.tokens FROM rag_terms t CROSS JOIN rag_state s
WHERE t.term = ANY(%s)"""
# A reader's locks, taken before its snapshot and in the order a writer's TRUNCATE takes them: a rebuild then waits
# for the search or the search for the rebuild, never each for the other (and TRUNCATE is not MVCC-safe: a search
# holding these cannot meet tables emptied after its snapshot).
READ_LOCK = "LOCK TABLE rag_postings, rag_chunks, rag_documents, rag_terms, rag_state IN ACCESS SHARE MODE"
TRUNCATE = "TRUNCATE rag_postings, rag_chunks, rag_documents, rag_terms"
CANDIDATES = """
WITH lex AS (
    SELECT p.chunk, sum(w.weight * p.tf / (p.tf + %(c)s + %(d)s * p.tokens)) AS score
    FROM unnest(%(ids)s::int[], %(weights)s::float8[]) AS w(term, weight) JOIN rag_postings p USING (term)
    GROUP BY p.chunk),
pool AS ({pool})
SELECT c.id, c.doc_id, c.title, c.date, c.start, c."end", c.text, vector_send(c.embedding), coalesce(l.score, 0)
FROM pool JOIN rag_chunks c USING (pos) LEFT JOIN lex l ON l.chunk = c.pos
ORDER BY c.doc_id COLLATE "C", c.seq
"""
POOL_TOP = """(SELECT chunk AS pos FROM lex ORDER BY score DESC LIMIT %(wanted)s)
    UNION (SELECT pos FROM rag_chunks ORDER BY embedding <#> %(q)s::vector LIMIT %(wanted)s)"""
POOL_DOCUMENTS = "SELECT pos FROM rag_chunks WHERE doc_id = ANY(%(docs)s::text[])"
CHUNK_COLUMNS = 'id, doc_id, title, date, start, "end", text'


def redacted(url: str) -> str:
    """The database URL without its password, for messages.

    >>> redacted("postgresql://rag:secret@db.local:5432/rag")
    'postgresql://rag@db.local:5432/rag'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc))


def vector_text(v: np.ndarray) -> str:
    """A vector as pgvector's text form (float32 round-trips: each value is the float32's shortest repr).

    >>> vector_text(np.array([0.5, -1.0], dtype=np.float32))
    '[0.5,-1.0]'
    """
    return "[" + ",".join(map(str, v.astype(np.float32).tolist())) + "]"


def vector_from_binary(value: bytes) -> np.ndarray:
    """A vector from pgvector's binary form (`vector_send`: its length and a reserved field as two big-endian
    uint16, then big-endian float32s), ten times faster to read than the text form.

    >>> vector_from_binary(bytes.fromhex("0002 0000 3f000000 bf800000"))
    array([ 0.5, -1. ], dtype=float32)
    """
    dim = int.from_bytes(value[:2], "big")
    return np.frombuffer(value, dtype=">f4", count=dim, offset=4).astype(np.float32)


def terms(text: str) -> tuple[Counter[str], int]:
    """A normalised text's BM25 terms with their counts, and its length in syllables (`rag.lexical`)."""
    tokens = tokenize(text)
    return Counter(tokens + pairs(text)), len(tokens)


def register_vector(conn: Any) -> None:
    from pgvector.psycopg import register_vector

    register_vector(conn)


def _psycopg() -> Any:
    try:
        import pgvector  # noqa: F401
        import psycopg
    except ImportError:
        raise ConfigError(f"RAG_DATABASE_URL is set, but PostgreSQL support is not installed: {INSTALL}.") from None
    return psycopg


# A few connections per database for the process's searches (a search, an idf, a chunk lookup: one each at a
# time), shared by every `PgStore` of that URL: the app makes a store for each change it writes, and a pool per
# store would leave its connections and threads behind. Closed when the process exits.
_POOLS: dict[str, Any] = {}
_POOLS_LOCK = threading.Lock()


def _configure(conn: Any) -> None:
    conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")


@atexit.register
def _close_pools() -> None:
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()


class PgStore:
    """The PostgreSQL store (`rag.storage.Store`)."""

    def __init__(self, url: str) -> None:
        self.url, self.where = url, redacted(url)
        self._writer: Any = None  # the connection holding the writer's lock

    def pool(self) -> Any:
        """The readers' connections to this database, shared by every store of the process (see `_POOLS`)."""
        with _POOLS_LOCK:
            if self.url not in _POOLS:
                from psycopg_pool import ConnectionPool

                self.connect().close()  # a clear error now, rather than the pool's timeout later
                _POOLS[self.url] = ConnectionPool(
                    self.url, min_size=1, max_size=4, kwargs={"autocommit": True}, configure=_configure,
                    timeout=30, open=True,
                )  # fmt: skip
            return _POOLS[self.url]

    def connect(self) -> Any:
        psycopg = _psycopg()
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"cannot connect to the database {self.where} ({reason}); check RAG_DATABASE_URL and that "
                "PostgreSQL is running."
            ) from None

    @contextmanager
    def lock(self) -> Iterator[None]:
        conn = self.connect()
        try:
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                raise LockedError(f"another `rag index` is writing {self.where}; wait for it to finish.")
            self._writer = conn
            yield
        finally:
            self._writer = None
            conn.close()  # the lock goes with the session

    def clean(self) -> None:
        """Nothing to do: the server rolled back whatever a killed writer had not committed."""

    def _state(self, conn: Any) -> tuple[Any, ...] | None:
        psycopg = _psycopg()
        try:
            return conn.execute(
                "SELECT format, settings, removed, generation, chunks FROM rag_state WHERE id = 1"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return None

    def exists(self) -> bool:
        with self.connect() as conn:
            return self._state(conn) is not None

    def version(self) -> int | None:
        # asked before every question by a following app: a pooled connection, not a new one each time
        with self.pool().connection() as conn:
            state = self._state(conn)
        return None if state is None else int(state[3])

    def load(self) -> PgIndex:
        with self.connect() as conn:
            state = self._state(conn)
        if state is None:
            raise IndexMissingError(
                f"no index in the database {self.where}; run `rag index seeds/` with RAG_DATABASE_URL set, "
                "or `rag index --to-database URL` to copy the index folder."
            )
        form, settings, removed, generation, chunks = state
        if form != FORMAT_VERSION or not isinstance(settings, dict) or not isinstance(removed, dict):
            raise IndexCorruptError(f"the index in {self.where} has another format; run `rag index --rebuild`.")
        return PgIndex(self, IndexSettings.from_json(settings), removed, int(generation), int(chunks))

    def commit(self, change: Change, previous: Any) -> None:
        """Make `change` the index in one transaction: the documents it does not keep are deleted with their
        chunks and postings, the added ones inserted, the counts and the generation updated."""
        if self._writer is None:
            with self.lock():
                return self.commit(change, previous)
        conn = self._writer
        dim = change.settings.dim or int(change.vectors.shape[1])
        with conn.transaction():
            conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            conn.execute(SCHEMA.format(dim=dim))
            register_vector(conn)  # numpy arrays as pgvector values; the extension exists from here on
            state = self._state(conn)
            stored = IndexSettings.from_json(state[1]) if state is not None else None
            if stored is None or not change.kept or stored.dim != dim:
                # nothing kept (a first index, a rebuild, the last document removed): start from empty tables
                conn.execute(TRUNCATE)
                conn.execute("DROP INDEX IF EXISTS rag_chunks_hnsw")
                if stored is not None and stored.dim != dim:
                    conn.execute(f"ALTER TABLE rag_chunks ALTER COLUMN embedding TYPE vector({dim})")
            else:
                self._drop(conn, change)
            self._keep_vectors_inline(conn)  # after a change of type, which takes the type's storage again
            self._insert(conn, change.added, change.chunks, change.vectors)
            if stored is not None and stored.lexical_version != change.settings.lexical_version:
                self._relex(conn)
            has_hnsw = conn.execute("SELECT to_regclass('rag_chunks_hnsw') IS NOT NULL").fetchone()[0]
            if change.settings.hnsw and not has_hnsw:
                conn.execute(
                    "CREATE INDEX rag_chunks_hnsw ON rag_chunks USING hnsw (embedding vector_ip_ops) "
                    f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
                )
            elif has_hnsw and not change.settings.hnsw:
                conn.execute("DROP INDEX rag_chunks_hnsw")
            # fresh statistics: after a bulk load the planner would otherwise scan every posting for a question
            conn.execute("ANALYZE rag_chunks, rag_terms, rag_postings")
            chunks, tokens = conn.execute("SELECT count(*), coalesce(sum(tokens), 0) FROM rag_chunks").fetchone()
            conn.execute(
                """INSERT INTO rag_state VALUES (1, %(format)s, %(settings)s, %(removed)s, 1, %(chunks)s, %(tokens)s)
                ON CONFLICT (id) DO UPDATE SET format = EXCLUDED.format, settings = EXCLUDED.settings,
                removed = EXCLUDED.removed, generation = rag_state.generation + 1, chunks = EXCLUDED.chunks,
                tokens = EXCLUDED.tokens""",
                {
                    "format": FORMAT_VERSION,
                    "settings": json.dumps(asdict(change.settings)),
                    "removed": json.dumps(dict(sorted(change.removed.items())), ensure_ascii=False),
                    "chunks": chunks,
                    "tokens": tokens,
                },
            )
        # the visibility map set: a question's postings are then read from their index alone (7 ms, not 24, for
        # a question's postings at 10k chunks); outside the transaction, as VACUUM must be
        conn.execute("VACUUM rag_postings, rag_terms")

    @staticmethod
    def _keep_vectors_inline(conn: Any) -> None:
        """Vectors in their rows (MAIN storage, once per database) rather than in TOAST, pgvector's default: an
        exact search reads every vector, and out of line each costs two more lookups (12 ms, not 34, for 10k)."""
        storage = conn.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'rag_chunks'::regclass AND attname = 'embedding'"
        ).fetchone()[0]
        if storage != "m":  # only rows written from now on move; a rebuild moves them all
            conn.execute("ALTER TABLE rag_chunks ALTER COLUMN embedding SET STORAGE MAIN")

    def _drop(self, conn: Any, change: Change) -> None:
        """Delete the documents `change` neither keeps nor keeps as they are, with their chunks and terms;
        update the kept documents whose record changed (a new title rule, say)."""
        # a kept document's text is the one stored (same bytes, same reading): its other fields are compared
        stored = {row[0]: row[1] for row in conn.execute("SELECT id, document - 'text' FROM rag_documents")}
        gone = [doc_id for doc_id in stored if doc_id not in change.kept]
        if gone:
            conn.execute(
                """UPDATE rag_terms t SET df = t.df - d.n FROM (
                    SELECT p.term, count(*) AS n FROM rag_postings p JOIN rag_chunks c ON c.pos = p.chunk
                    WHERE c.doc_id = ANY(%s) GROUP BY p.term) d WHERE t.id = d.term""",
                (gone,),
            )
            conn.execute("DELETE FROM rag_documents WHERE id = ANY(%s)", (gone,))
            conn.execute("DELETE FROM rag_terms WHERE df <= 0")
        updated = [
            (json.dumps(asdict(d), ensure_ascii=False), doc_id)
            for doc_id, d in change.kept.items()
            if stored.get(doc_id) != {k: v for k, v in asdict(d).items() if k != "text"}
        ]
        if updated:
            with conn.cursor() as cur:
                cur.executemany("UPDATE rag_documents SET document = %s WHERE id = %s", updated)

    def _insert(self, conn: Any, documents: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        with conn.cursor() as cur:
            with cur.copy("COPY rag_documents (id, document) FROM STDIN") as copy:
                for d in documents:
                    copy.write_row((d.id, json.dumps(asdict(d), ensure_ascii=False)))
            seq: Counter[str] = Counter()
            lexical = []
            columns = 'id, doc_id, seq, title, date, start, "end", text, tokens, embedding'
            # binary: the vectors go as float32 (pgvector's adapter), about 20 times faster than as text
            with cur.copy(f"COPY rag_chunks ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "int4", "text", "text", "int4", "int4", "text", "int4", "vector"])
                for c, v in zip(chunks, vectors, strict=True):
                    counts, length = terms(c.text)
                    lexical.append((c.id, counts, length))
                    copy.write_row((c.id, c.doc_id, seq[c.doc_id], c.title, c.date, c.start, c.end, c.text, length, v))
                    seq[c.doc_id] += 1
            self._post(cur, lexical)

    def _post(self, cur: Any, lexical: list[tuple[str, Counter[str], int]]) -> None:
        """Add the postings of these chunks (id, term counts, length) and their terms' document frequencies."""
        if not lexical:
            return
        cur.execute("CREATE TEMP TABLE rag_new_postings (term text, chunk text, tf real, tokens int) ON COMMIT DROP")
        with cur.copy("COPY rag_new_postings FROM STDIN") as copy:
            for chunk_id, counts, length in lexical:
                for term, tf in counts.items():
                    copy.write_row((term, chunk_id, tf, length))
        cur.execute(
            """INSERT INTO rag_terms (term, df) SELECT term, count(*) FROM rag_new_postings GROUP BY term
            ON CONFLICT (term) DO UPDATE SET df = rag_terms.df + EXCLUDED.df"""
        )
        cur.execute(
            """INSERT INTO rag_postings (term, chunk, tf, tokens)
            SELECT t.id, c.pos, n.tf, n.tokens FROM rag_new_postings n
            JOIN rag_terms t ON t.term = n.term JOIN rag_chunks c ON c.id = n.chunk"""
        )
        cur.execute("DROP TABLE rag_new_postings")

    def _relex(self, conn: Any) -> None:
        """The BM25 terms changed (`LEXICAL_VERSION`): every chunk's postings again, from the stored texts."""
        conn.execute("TRUNCATE rag_postings, rag_terms")
        rows = conn.execute("SELECT id, text FROM rag_chunks").fetchall()
        lexical = [(chunk_id, *terms(text)) for chunk_id, text in rows]
        conn.execute(
            "UPDATE rag_chunks c SET tokens = u.tokens FROM unnest(%s::text[], %s::int[]) AS u(id, tokens) "
            "WHERE c.id = u.id",
            ([row[0] for row in lexical], [row[2] for row in lexical]),
        )
        with conn.cursor() as cur:
            self._post(cur, lexical)


class PgIndex:
    """The index in the database (`rag.storage.Searchable`): searched live; `version` is the generation it was
    loaded at, which the app compares to notice another instance's writes."""

    def __init__(self, store: PgStore, settings: IndexSettings, removed: dict[str, str], version: int, size: int):
        self.store, self.settings, self.removed = store, settings, removed
        self.version, self.size = version, size
        self._idf: dict[str, float] = {}

    def _conn(self) -> Any:
        return self.store.pool().connection()

    @cached_property
    def documents(self) -> dict[str, Document]:
        with self._conn() as conn:
            rows = conn.execute('SELECT document FROM rag_documents ORDER BY id COLLATE "C"').fetchall()
        return {row[0]["id"]: Document(**row[0]) for row in rows}

    def candidates(self, q: np.ndarray, query: str, wanted: int, doc_ids: Collection[str] | None) -> Candidates:
        counts, _ = terms(query)
        params: dict[str, Any] = (
            {"docs": list(doc_ids)} if doc_ids is not None else {"wanted": wanted, "q": vector_text(q)}
        )
        sql = CANDIDATES.format(pool=POOL_DOCUMENTS if doc_ids is not None else POOL_TOP)
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")  # both reads, one snapshot
            conn.execute(READ_LOCK)
            params |= self._weights(conn.execute(QUERY_TERMS, (list(counts),)).fetchall(), counts)
            rows = conn.execute(sql, params).fetchall()
        if not rows:
            return Candidates([], np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((0, self.settings.dim)))
        chunks = [Chunk(*row[:7]) for row in rows]
        vectors = np.stack([vector_from_binary(row[7]) for row in rows])
        return Candidates(chunks, vectors @ q, np.array([row[8] for row in rows], dtype=np.float32), vectors)

    @staticmethod
    def _weights(found: list[tuple[Any, ...]], counts: Counter[str]) -> dict[str, Any]:
        """The BM25 parameters of `CANDIDATES` for a query's terms found in the index (id, term, df, chunks,
        tokens): Okapi BM25 as `rag.lexical.BM25` computes it, a term counted as often as the query has it."""
        ids, weights = [], []
        for term_id, term, df, n, _ in found:
            idf = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
            ids.append(term_id)
            weights.append(counts[term] * idf * (K1 + 1) * (BIGRAM_WEIGHT if " " in term else 1.0))
        chunks, tokens = found[0][3:] if found else (1, 1)
        c, d = K1 * (1 - B), K1 * B / max(tokens / max(chunks, 1), 1e-9)  # the length norm, over the mean length
        return {"ids": ids, "weights": weights, "c": c, "d": d}

    def chunks_by_id(self, ids: Collection[str]) -> dict[str, Chunk]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {CHUNK_COLUMNS} FROM rag_chunks WHERE id = ANY(%s)", (list(ids),)).fetchall()
        return {row[0]: Chunk(*row) for row in rows}

    def chunk_counts(self) -> dict[str, int]:
        with self._conn() as conn:
            return dict(conn.execute("SELECT doc_id, count(*) FROM rag_chunks GROUP BY doc_id").fetchall())

    def idf(self, term: str) -> float:
        if term not in self._idf:
            with self._conn() as conn:
                row = conn.execute(
                    "SELECT coalesce((SELECT df FROM rag_terms WHERE term = %s), 0), chunks FROM rag_state", (term,)
                ).fetchone()
            df, n = (0, self.size) if row is None else row
            self._idf[term] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return self._idf[term]
