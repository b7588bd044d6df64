"""docs/asyncapi.yaml, read for the tests that check events against it."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import yaml

from devstack.procs import ROOT


def document() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docs/asyncapi.yaml").read_text()))


def payload_schema(doc: dict[str, Any], ce_type: str) -> dict[str, Any]:
    """The payload schema of the message named `ce_type`."""
    (message,) = [m for m in doc["components"]["messages"].values() if m["name"] == ce_type]
    name = message["payload"]["$ref"].rsplit("/", 1)[-1]
    return dict(doc["components"]["schemas"][name])


def problems(doc: dict[str, Any], topic: str, headers: dict[str, str], payload: Any) -> list[str]:
    """What in a record (its topic, decoded headers and JSON value) the document does not
    allow; empty when it fits."""
    found = [e.message for e in _errors(doc["components"]["schemas"]["CloudEventHeaders"], headers)]
    ce_type = headers.get("ce_type", "")
    channel = doc["channels"].get(topic)
    if channel is None:
        return [*found, f"no channel {topic}"]
    names = {
        doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]["name"]
        for ref in channel["messages"].values()
    }
    if ce_type not in names:
        return [*found, f"{ce_type} is not a message of {topic}"]
    return found + [e.message for e in _errors(payload_schema(doc, ce_type), payload)]


def _errors(schema: dict[str, Any], instance: Any) -> list[Any]:
    return list(jsonschema_rs.validator_for(schema).iter_errors(instance))
