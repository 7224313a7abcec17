"""A tenant-isolated vector store on PostgreSQL (`embeddings`), with hard query limits and per-document access.

Every call runs in the caller's `TenantTransaction`, so the tenancy model
isolates vectors exactly like any other tenant table (row-level security,
tenant schema or tenant database) -- and the queries filter on `tenant_id`
as well. A similarity search

- returns at most `limit_cap` rows (`APP_VECTOR_QUERY_LIMIT`), whatever the
  caller asks for: LIMIT is a bound parameter clamped in Python before it
  reaches SQL;
- runs under `SET LOCAL statement_timeout` (`APP_VECTOR_STATEMENT_TIMEOUT_MS`),
  so one expensive or stalled query cannot hold a connection (or the
  database) hostage; a cancelled query raises `VectorQueryTimeoutError`;
- returns only the chunks the caller may read: each chunk carries its
  document's owner and sensitivity level (roles.yaml), and `may_read` --
  the decision point's record-level ABAC, the same policy as any record --
  decides per match BEFORE the chunk is decrypted.

Chunks longer than `max_chunk_chars` (`APP_VECTOR_MAX_CHUNK_CHARS`) are
refused at ingestion (`ChunkTooLargeError`): nothing unbounded is stored and
later replayed into a prompt. Chunk text is sealed with the tenant's data
key (`embeddings.content`). Vectors are `double precision[]` scored by cosine
similarity in SQL; with pgvector installed, switch the column to `vector(N)`
and the ORDER BY to `<=>`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from psycopg.errors import QueryCanceled
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ..db.scope import TenantTransaction
from ..security.keys import TenantKeyring
from ..security.policy import Record
from .errors import ChunkTooLargeError, VectorQueryTimeoutError

MAX_DIMENSIONS: Final = 4096
CONTENT_COLUMN: Final = "embeddings.content"
#: Owners are token subjects; sensitivity levels are roles.yaml names.
_OWNER: Final = re.compile(r"[^\x00-\x1f]{1,255}")
_SENSITIVITY: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")

_DELETE: Final = text("DELETE FROM embeddings WHERE tenant_id = :tenant AND document_id = :document")
_INSERT: Final = text(
    "INSERT INTO embeddings (tenant_id, document_id, chunk, embedding, content, owner, sensitivity) "
    "VALUES (:tenant, :document, :chunk, :embedding, :content, :owner, :sensitivity)"
)
_TIMEOUT: Final = text("SELECT set_config('statement_timeout', :timeout, true)")
_SEARCH: Final = text(
    """
    SELECT e.document_id, e.chunk, e.content, e.owner, e.sensitivity,
           (SELECT sum(a * b) FROM unnest(e.embedding, CAST(:query AS double precision[])) AS pair(a, b))
             / NULLIF(sqrt((SELECT sum(a * a) FROM unnest(e.embedding) AS single(a))) * :query_norm, 0) AS score
      FROM embeddings e
     WHERE e.tenant_id = :tenant AND cardinality(e.embedding) = :dimensions
     ORDER BY score DESC NULLS LAST, e.document_id, e.chunk
     LIMIT :limit
    """
)


@dataclass(frozen=True, slots=True)
class Match:
    document_id: str
    chunk: int
    score: float
    text: str
    owner: str
    sensitivity: str


#: Asked once per distinct (owner, sensitivity) of the candidate chunks: may the caller read it?
ReadDecision = Callable[[Record], bool]


def _vector(values: Sequence[float]) -> list[float]:
    vector = [float(v) for v in values]
    if not 1 <= len(vector) <= MAX_DIMENSIONS or not all(math.isfinite(v) for v in vector):
        raise ValueError(f"a vector has 1-{MAX_DIMENSIONS} finite components")
    return vector


class VectorStore:
    """Per-tenant embeddings; `limit_cap`, `statement_timeout_ms` and `max_chunk_chars` are hard limits."""

    def __init__(
        self,
        keyring: TenantKeyring,
        *,
        limit_cap: int = 20,
        statement_timeout_ms: int = 2_000,
        max_chunk_chars: int = 4_000,
    ) -> None:
        if min(limit_cap, statement_timeout_ms, max_chunk_chars) < 1:
            raise ValueError("the limit cap, the statement timeout and the chunk cap must be positive")
        self._keyring = keyring
        self.limit_cap = limit_cap
        self.statement_timeout_ms = statement_timeout_ms
        self.max_chunk_chars = max_chunk_chars

    @classmethod
    def from_settings(cls, settings, keyring: TenantKeyring) -> VectorStore:
        """The store as configured: `APP_VECTOR_QUERY_LIMIT`, `..._STATEMENT_TIMEOUT_MS`, `..._MAX_CHUNK_CHARS`."""
        return cls(
            keyring,
            limit_cap=settings.vector_query_limit,
            statement_timeout_ms=settings.vector_statement_timeout_ms,
            max_chunk_chars=settings.vector_max_chunk_chars,
        )

    def replace_document(
        self,
        tx: TenantTransaction,
        document_id: str,
        chunks: Sequence[tuple[Sequence[float], str]],
        *,
        owner: str,
        sensitivity: str,
    ) -> int:
        """Index a document for `owner` at `sensitivity` (its previous chunks are removed first); returns the count."""
        if not _OWNER.fullmatch(owner) or not _SENSITIVITY.fullmatch(sensitivity):
            raise ValueError("a document needs its owner (a subject) and a sensitivity level of roles.yaml")
        if any(len(chunk_text) > self.max_chunk_chars for _, chunk_text in chunks):
            raise ChunkTooLargeError(f"split the document into chunks of at most {self.max_chunk_chars} characters")
        tx.connection.execute(_DELETE, {"tenant": tx.tenant, "document": document_id})
        for number, (embedding, chunk_text) in enumerate(chunks):
            tx.connection.execute(
                _INSERT,
                {
                    "tenant": tx.tenant,
                    "document": document_id,
                    "chunk": number,
                    "embedding": _vector(embedding),
                    "content": self._keyring.encrypt_text(tx, CONTENT_COLUMN, chunk_text),
                    "owner": owner,
                    "sensitivity": sensitivity,
                },
            )
        return len(chunks)

    def apply_timeout(self, tx: TenantTransaction) -> None:
        """`SET LOCAL statement_timeout` for the rest of this transaction only."""
        tx.connection.execute(_TIMEOUT, {"timeout": f"{self.statement_timeout_ms}ms"})

    def search(
        self, tx: TenantTransaction, query: Sequence[float], *, may_read: ReadDecision, limit: int = 5
    ) -> list[Match]:
        """The `limit` best chunks the caller may read, among the `limit_cap` most similar ones."""
        vector = _vector(query)
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            return []
        self.apply_timeout(tx)
        try:
            rows = tx.connection.execute(
                _SEARCH,
                {
                    "query": vector,
                    "query_norm": norm,
                    "tenant": tx.tenant,
                    "dimensions": len(vector),
                    "limit": self.limit_cap,
                },
            ).all()
        except DBAPIError as error:
            if isinstance(error.orig, QueryCanceled):
                raise VectorQueryTimeoutError() from error
            raise
        decisions: dict[Record, bool] = {}
        matches = []
        for row in rows:
            record = Record(owner=row.owner, sensitivity=row.sensitivity)
            if record not in decisions:
                decisions[record] = may_read(record)
            if not decisions[record]:
                continue
            plain = self._keyring.decrypt_text(tx, CONTENT_COLUMN, bytes(row.content))
            score = float(row.score or 0.0)
            matches.append(Match(row.document_id, row.chunk, score, plain, row.owner, row.sensitivity))
            if len(matches) >= max(1, min(int(limit), self.limit_cap)):
                break
        return matches
