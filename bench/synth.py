"""Synth time and template size of the CentralGovernance and DataDomain stacks.

Also checks the scaling claim: synthesizing domains beside central leaves central's template
unchanged (the predecessor's central stack grew by ~9 resources per domain).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

#: Domain stacks synthesized beside central for the "unchanged" row.
EXTRA_DOMAINS = 5


def run() -> list[dict[str, Any]]:
    from meshkit.constructs import docgen

    started = time.perf_counter()
    templates = docgen.synth_defaults()
    seconds = time.perf_counter() - started
    rows: list[dict[str, Any]] = [
        {
            "name": "synth central + domain (one app, first synth in process)",
            "value": round(seconds, 2),
            "unit": "s",
            "goal": "< 30",
            "note": "includes staging the meshkit package asset once",
        }
    ]
    for stack, label in (("Central", "central"), ("Domain", "domain")):
        template = docgen.normalise(templates[stack])
        rows.append(
            {
                "name": f"{label} template resources",
                "value": len(template["Resources"]),
                "unit": "resources",
                "goal": "< 500 (CloudFormation limit)",
                "note": "default configuration",
            }
        )
        rows.append(
            {
                "name": f"{label} template size",
                "value": len(json.dumps(templates[stack], separators=(",", ":"))),
                "unit": "bytes",
                "goal": "< 1,000,000 (CloudFormation limit)",
                "note": "minified JSON",
            }
        )
    started = time.perf_counter()
    crowded = docgen.synth_defaults(extra_domains=EXTRA_DOMAINS)
    seconds = time.perf_counter() - started
    unchanged = docgen.normalise(crowded["Central"]) == docgen.normalise(templates["Central"])
    rows.append(
        {
            "name": f"synth central + {EXTRA_DOMAINS + 1} domains",
            "value": round(seconds, 2),
            "unit": "s",
            "goal": "linear in domains",
            "note": "central template unchanged" if unchanged else "CENTRAL TEMPLATE CHANGED",
        }
    )
    rows.append(
        {
            "name": "central resources added per domain",
            "value": 0 if unchanged else -1,
            "unit": "resources",
            "goal": "0 (predecessor: ~9, ceiling ~50 domains)",
            "note": "domains register at run time",
        }
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
