#!/usr/bin/env python3
"""Helpers of scripts/contract-fuzz.sh (standard library only).

  seed BASE_URL OUT_DIR      seed a fresh server through its API and write
                             OUT_DIR/seed.json and OUT_DIR/schemathesis.toml
  coverage SPEC NDJSON...    list every documented 4xx (operation, status) and
                             whether a fuzz run observed it; exit 1 if one of
                             them was never observed

The admin is created with `phr admin create-admin` by the shell script before
`seed` runs (PHR_FUZZ_ADMIN_EMAIL / PHR_FUZZ_ADMIN_PASSWORD).
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

PASSWORD = "correct horse battery"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Api:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, token=None, json_body=None, form=None, expect=(200, 201, 202, 204)):
        headers = {}
        data = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body).encode()
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req) as res:
                status, body = res.status, res.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if status not in expect:
            raise SystemExit(f"seeding: {method} {path} answered {status}: {body[:500]!r}")
        return json.loads(body) if body else None

    def account(self, email, name):
        reg = self.call("POST", "/v1/accounts", json_body={"email": email, "password": PASSWORD, "displayName": name})
        return reg, self.token(email)

    def token(self, email, password=PASSWORD):
        tok = self.call(
            "POST", "/v1/auth/token", form={"grant_type": "password", "username": email, "password": password}
        )
        return tok["access_token"]


def seed(base, out_dir):
    api = Api(base)
    admin = api.token(os.environ["PHR_FUZZ_ADMIN_EMAIL"], os.environ["PHR_FUZZ_ADMIN_PASSWORD"])

    # The patient the fuzzer acts as, with data in every category it can write.
    patient_reg, patient = api.account("patient@example.jp", "鈴木 花子")
    me = patient_reg["personId"]
    obs_id = str(uuid.uuid4())
    api.call(
        "POST",
        f"/v1/persons/{me}/observations/batch",
        patient,
        {
            "observations": [
                {
                    "id": obs_id,
                    "kind": "blood_pressure",
                    "components": {
                        "systolic": {"value": 152, "unit": "mm[Hg]"},
                        "diastolic": {"value": 96, "unit": "mm[Hg]"},
                    },
                    "effectiveAt": "2026-01-06T07:00:00+09:00",
                    "source": {"app": "OMRON connect", "device": "HCR-7601T"},
                }
            ]
        },
    )
    child = api.call("POST", "/v1/persons", patient, {"displayName": "鈴木 一郎", "birthDate": "2019-04-01"})
    device = api.call("POST", "/v1/devices", patient, {"platform": "android", "name": "Pixel 9"})
    card = api.call("POST", f"/v1/persons/{me}/cards", patient, {"cardUid": "04:5B:21:7A:9C:3E:80"})
    api.call(
        "PUT",
        f"/v1/persons/{me}/emergency-settings",
        patient,
        {"enabled": True, "categories": ["allergies", "medications"], "contacts": []},
    )
    rule = api.call(
        "POST",
        f"/v1/persons/{me}/alert-rules",
        patient,
        {"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 140},
    )
    with open(os.path.join(REPO, "mobile-contract", "medications-qr.json"), encoding="utf-8") as f:
        qr = json.load(f)["steps"][2]["request"]["json"]
    api.call("POST", f"/v1/persons/{me}/medications/qr", patient, qr)
    dispensings = api.call("GET", f"/v1/persons/{me}/dispensings", patient)["items"]

    # A family member with a read grant on the patient.
    family_reg, _family = api.account("family@example.jp", "鈴木 太郎")
    grant = api.call(
        "POST",
        f"/v1/persons/{me}/grants",
        patient,
        {
            "grantee": {"accountId": family_reg["accountId"]},
            "categories": ["vitals"],
            "access": "read",
            "purpose": "family",
        },
    )

    # A municipality with a nurse and a programme the patient enrols in.
    org = api.call("POST", "/v1/orgs", admin, {"kind": "municipality", "name": "利根町"})
    nurse_reg, _nurse = api.account("nurse@example.jp", "保健師 佐藤")
    api.call("POST", f"/v1/orgs/{org['orgId']}/members", admin, {"accountId": nurse_reg["accountId"], "role": "nurse"})
    program = api.call(
        "POST",
        f"/v1/orgs/{org['orgId']}/programs",
        admin,
        {"name": "高血圧重症化予防", "categories": ["vitals"], "purpose": "public_health"},
    )
    api.call("POST", f"/v1/programs/{program['programId']}/enrollments", patient, {})
    client = api.call("POST", f"/v1/orgs/{org['orgId']}/clients", admin, {"name": "ward PC 3"})
    org_rule = api.call(
        "POST",
        f"/v1/orgs/{org['orgId']}/alert-rules",
        admin,
        {"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 160},
    )
    notifications = api.call("GET", "/v1/notifications", patient)["items"]

    ids = {
        "personId": [me, child["personId"]],
        "observationId": [obs_id],
        "deviceId": [device["deviceId"]],
        "cardId": [card["cardId"]],
        "ruleId": [rule["ruleId"], org_rule["ruleId"]],
        "dispensingId": [d["id"] for d in dispensings],
        "grantId": [grant["grantId"]],
        "orgId": [org["orgId"]],
        "programId": [program["programId"]],
        "clientId": [client["clientId"]],
        "accountId": [family_reg["accountId"], nurse_reg["accountId"]],
        "id": [n["id"] for n in notifications],
    }
    ids = {k: v for k, v in ids.items() if v}
    with open(os.path.join(out_dir, "seed.json"), "w", encoding="utf-8") as f:
        json.dump({"patientToken": patient, "ids": ids}, f, indent=2)
    with open(os.path.join(out_dir, "schemathesis.toml"), "w", encoding="utf-8") as f:
        f.write(config(ids))


def config(ids):
    """Path parameters are drawn from the seeded ids 90% of the time, so most
    requests reach real records and the rest reach the 404 paths."""
    lines = ["# Generated by scripts/contract_fuzz.py seed; see docs/contract-fuzzing.md", ""]
    lines.append("[dictionaries]")
    for name, values in sorted(ids.items()):
        lines.append(f"{name} = {{ values = {json.dumps(values)} }}")
    lines.append("")
    lines.append("[parameters]")
    for name in sorted(ids):
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.9 }}')
    # Body fields that must name an existing record of the caller (a device
    # in sync pushes, an account to make guardian or member, an organization
    # to share with) always get a seeded one.
    for field, name in (("deviceId", "deviceId"), ("accountId", "accountId"), ("orgId", "orgId")):
        if name in ids:
            lines.append(f'"body.{field}" = {{ dictionary = "{name}", probability = 1.0 }}')
    lines.append("")
    with open(os.path.join(REPO, "scripts", "contract-fuzz.toml"), encoding="utf-8") as f:
        lines.append(f.read())
    return "\n".join(lines)


def coverage(spec_path, ndjson_paths):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    documented = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status in op.get("responses", {}):
                if status.startswith("4"):
                    documented.add((method.upper(), path, int(status)))
    observed = set()
    for p in ndjson_paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                event = json.loads(line).get("ScenarioFinished")
                if not event:
                    continue
                rec = event["recorder"]
                for case_id, inter in rec.get("interactions", {}).items():
                    case = rec.get("cases", {}).get(case_id, {}).get("value", {})
                    res = inter.get("response") or {}
                    if case and "status_code" in res:
                        observed.add((case["method"].upper(), case["path"], res["status_code"]))
    missing = sorted(documented - observed, key=lambda t: (t[1], t[0], t[2]))
    seen = len(documented) - len(missing)
    print(f"documented 4xx responses observed: {seen}/{len(documented)}")
    for method, path, status in missing:
        print(f"  never observed: {status} {method} {path}")
    return 1 if missing else 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "seed":
        seed(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "coverage":
        sys.exit(coverage(sys.argv[2], sys.argv[3:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
