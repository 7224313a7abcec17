"""A tenant-isolated vector store on PostgreSQL (`embeddings`), with hard query limits.

Every call runs in the caller's `TenantTransaction`, so the tenancy model
isolates vectors exactly like any other tenant table (row-level security,
tenant schema or tenant database) -- and the queries filter on `tenant_id`
as well. A similarity search

- returns at most `limit_cap` rows, whatever the caller asks for (LIMIT is
  a bound parameter clamped in Python before it reaches SQL), and
- runs under `SET LOCAL statement_timeout`, so one expensive query cannot
  hold a connection (or the database) hostage.

Chunk text is sealed with the tenant's data key (`embeddings.content`).
Vectors are `double precision[]` scored by cosine similarity in SQL; with
pgvector installed, switch the column to `vector(N)` and the ORDER BY to `<=>`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import text

from ..db.scope import TenantTransaction
from ..security.keys import TenantKeyring

MAX_DIMENSIONS: Final = 4096
CONTENT_COLUMN: Final = "embeddings.content"

_DELETE: Final = text("DELETE FROM embeddings WHERE tenant_id = :tenant AND document_id = :document")
_INSERT: Final = text(
    "INSERT INTO embeddings (tenant_id, document_id, chunk, embedding, content) "
    "VALUES (:tenant, :document, :chunk, :embedding, :content)"
)
_TIMEOUT: Final = text("SELECT set_config('statement_timeout', :timeout, true)")
_SEARCH: Final = text(
    """
    SELECT e.document_id, e.chunk, e.content,
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


def _vector(values: Sequence[float]) -> list[float]:
    vector = [float(v) for v in values]
    if not 1 <= len(vector) <= MAX_DIMENSIONS or not all(math.isfinite(v) for v in vector):
        raise ValueError(f"a vector has 1-{MAX_DIMENSIONS} finite components")
    return vector


class VectorStore:
    """Per-tenant embeddings; `limit_cap` and `statement_timeout_ms` are hard limits."""

    def __init__(self, keyring: TenantKeyring, *, limit_cap: int = 20, statement_timeout_ms: int = 2_000) -> None:
        if limit_cap < 1 or statement_timeout_ms < 1:
            raise ValueError("the limit cap and the statement timeout must be positive")
        self._keyring = keyring
        self.limit_cap = limit_cap
        self.statement_timeout_ms = statement_timeout_ms

    def replace_document(
        self, tx: TenantTransaction, document_id: str, chunks: Sequence[tuple[Sequence[float], str]]
    ) -> int:
        """Index a document (its previous chunks are removed first); returns the chunk count."""
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
                },
            )
        return len(chunks)

    def apply_timeout(self, tx: TenantTransaction) -> None:
        """`SET LOCAL statement_timeout` for the rest of this transaction only."""
        tx.connection.execute(_TIMEOUT, {"timeout": f"{self.statement_timeout_ms}ms"})

    def search(self, tx: TenantTransaction, query: Sequence[float], *, limit: int = 5) -> list[Match]:
        vector = _vector(query)
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            return []
        self.apply_timeout(tx)
        rows = tx.connection.execute(
            _SEARCH,
            {
                "query": vector,
                "query_norm": norm,
                "tenant": tx.tenant,
                "dimensions": len(vector),
                "limit": max(1, min(int(limit), self.limit_cap)),
            },
        )
        return [
            Match(
                row.document_id,
                row.chunk,
                float(row.score or 0.0),
                self._keyring.decrypt_text(tx, CONTENT_COLUMN, bytes(row.content)),
            )
            for row in rows
        ]
