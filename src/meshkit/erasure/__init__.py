"""GDPR right to erasure across the mesh: find a subject's rows in every domain that declares
subject columns, plan, approve, purge each object without damaging it, verify, and keep a record.

``formats`` is the purge engine (Parquet, JSON lines, CSV, plain or gzip), ``subjects`` the match
keys and keyed hashes, ``index`` the subject index kept current by S3 events, ``find`` the find
(index first, scan where the index is not current), ``objects`` the per-object read / rewrite /
conditional write, ``central`` and ``domain`` the routers of the ``central.erasure`` and
``domain.erasure`` handler groups, ``secret`` the erasure key, ``cli`` ``meshkit erasure``.
pyarrow is only imported by the Parquet functions (see docs/erasure.md).
"""

from __future__ import annotations
