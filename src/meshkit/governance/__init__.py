"""Permissions as code: lake personas in a file, an exact plan, a batched apply, drift.

``model`` loads and validates the personas file; ``grants`` is the canonical grant form both
sides are compared in; ``state`` builds the desired state (file x catalog) and reads the actual
one (explicit grants, by resource type, paginated by hand); ``plan`` computes and renders the
delta; ``apply`` applies only the delta in batches of at most 20 entries.

Imports only boto-free standard modules plus pydantic and PyYAML (loaded when a YAML file is
read), so the handlers can use it in Lambda.
"""

from __future__ import annotations

__all__: list[str] = []
