"""GDPR right to erasure across the mesh: find a subject's rows in every domain that declares
subject columns, plan, approve, purge each object without damaging it, verify, and keep a record.

``formats`` is the purge engine (Parquet, JSON lines, CSV, plain or gzip), ``subjects`` the match
keys and keyed hashes, ``index`` the subject index kept current by S3 events, ``objects`` the
per-object read / rewrite / conditional write, ``handlers`` the central and domain routers.
pyarrow is only imported by the Parquet functions (see docs/erasure.md).
"""

from __future__ import annotations
