"""Schemathesis hooks for scripts/contract-fuzz.sh (loaded via SCHEMATHESIS_HOOKS).

Some body fields must name a record that exists and belongs to the caller (a
device in a sync push, an account to make guardian or grantee, an organization
to share with or grant to). The `[parameters]` bindings of schemathesis.toml
only reach path, query, header and cookie parameters, so this `map_case` hook,
which runs for every phase, puts a seeded id into those fields.

Only a value that is already a well-formed UUID is replaced, by another
well-formed UUID: a case stays exactly as valid or invalid against the schema
as it was generated, so negative cases keep their violation.
"""

import json
import os
import uuid

import schemathesis

_IDS = {}
_seed_file = os.environ.get("PHR_FUZZ_SEED_FILE")
if _seed_file:
    with open(_seed_file, encoding="utf-8") as f:
        _IDS = json.load(f)["ids"]

# operation label -> [(path inside the body, seeded id list)]
_BODY_IDS = {
    "POST /v1/sync/push": [(("deviceId",), "deviceId")],
    "POST /v1/persons/{personId}/guardians": [(("accountId",), "accountId")],
    "POST /v1/persons/{personId}/share-codes": [(("orgId",), "orgId")],
    "POST /v1/persons/{personId}/grants": [
        (("grantee", "accountId"), "accountId"),
        (("grantee", "orgId"), "orgId"),
    ],
}


def _is_uuid(value):
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


@schemathesis.hook
def map_case(context, case):
    operation = context.operation
    if operation is None or not isinstance(case.body, dict):
        return case
    for path, name in _BODY_IDS.get(operation.label, ()):
        holder = case.body
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        values = _IDS.get(name)
        if isinstance(holder, dict) and values and _is_uuid(holder.get(path[-1])):
            # Deterministic: the same generated id always maps to the same seeded one.
            holder[path[-1]] = values[uuid.UUID(holder[path[-1]]).int % len(values)]
    return case
