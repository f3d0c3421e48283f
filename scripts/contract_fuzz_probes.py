"""Targeted requests for documented 4xx responses the fuzz run did not observe
(issue #11: "every documented error is reachable"). Used by
`scripts/contract_fuzz.py probe`; see docs/contract-fuzzing.md.

For each missing (method, path, status) it tries the usual ways to provoke
that status from outside, and records the statuses actually answered:

- 400: a malformed path id, then a body that is not JSON;
- 401: no token; 403: a body valid by the spec, as each seeded actor who is
  not the owner (a family member with a narrow grant, a nurse, a stranger);
- 404: an unknown id in each path parameter in turn;
- 409: the same valid request twice (a duplicate);
- 413: a JSON body over the server's 8 MiB limit; 415: a text/plain body;
- 422: an empty JSON object, then a valid body with one string emptied.

Errors that need a particular state first (a live share code redeemed by
someone who is no organization's staff) have a scenario in `SCENARIOS`,
tried before the generic attempts.

Only what the server answered counts: a probe never marks a status observed
that it did not receive.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

UNKNOWN = "01a2511d-6b14-7779-be11-3c9b531ce3d1"
BIG = 9 * 1024 * 1024  # over PHR_MAX_BODY_BYTES' default (8 MiB)


def _resolve(spec, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema or {}


def example(spec, schema, ids, name=""):
    """A value valid by `schema`, with seeded ids for id-like properties."""
    schema = _resolve(spec, schema)
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            return example(spec, schema[key][0], ids, name)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    types = schema.get("type", "object")
    if isinstance(types, list):
        types = next((t for t in types if t != "null"), "null")
    if types == "object":
        props = schema.get("properties", {})
        return {k: example(spec, props[k], ids, k) for k in schema.get("required", []) if k in props}
    if types == "array":
        return [example(spec, schema.get("items", {}), ids, name)] * max(1, schema.get("minItems", 1))
    if types in ("integer", "number"):
        return schema.get("minimum", 1)
    if types == "boolean":
        return True
    if types == "null":
        return None
    fmt = schema.get("format")
    if fmt == "uuid":
        return (ids.get(name) or [str(uuid.uuid4())])[0]
    if fmt == "date-time":
        return "2030-01-01T00:00:00Z"
    if fmt == "date":
        return "2000-01-01"
    if fmt == "email":
        return f"probe-{uuid.uuid4().hex[:8]}@example.jp"
    return "x" * max(1, schema.get("minLength", 1))


class Prober:
    def __init__(self, base, spec, seed):
        self.base = base.rstrip("/")
        self.spec = spec
        self.ids = seed["ids"]
        self.tokens = seed.get("tokens", {})
        self.observed = set()

    def send(self, method, path, url, token=None, body=None, content_type="application/json"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base + url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                status = res.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None  # the server closed an oversized upload early: nothing observed
        self.observed.add((method, path, status))
        return status

    def url(self, path, override=None):
        def fill(segment):
            if not segment.startswith("{"):
                return segment
            name = segment[1:-1]
            if override and name in override:
                return override[name]
            return urllib.parse.quote((self.ids.get(name) or [UNKNOWN])[0])

        return "/".join(fill(s) for s in path.split("/"))

    def body(self, op):
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            return example(self.spec, content["application/json"].get("schema", {}), self.ids)
        return None

    def call(self, method, url, token, body):
        """A setup request whose answer is needed (not itself a probe): the JSON body, or None."""
        req = urllib.request.Request(
            self.base + url,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return json.loads(res.read() or b"null")
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return None

    def redeem_as_non_staff(self):
        """A live share code redeemed by someone who is no organization's staff
        (the family member: the fuzz spends only the patient's redeem budget)."""
        me, patient, family = self.ids["personId"][0], self.tokens.get("patient"), self.tokens.get("family")
        created = self.call(
            "POST", f"/v1/persons/{me}/share-codes", patient, {"categories": ["vitals"], "access": "read"}
        )
        if not created or "code" not in created:
            return False
        path = "/v1/share-codes/redeem"
        return self.send("POST", path, path, family, {"code": created["code"]}) == 403

    def as_partial_grantee(self, method, path, query):
        """403: the family member, with a fresh grant of `activity` only, asks
        for labs. The fuzz may have revoked the seeded (vitals) grant, after
        which a stranger's 404 would answer instead; neither grant covers labs."""
        me, patient, family = self.ids["personId"][0], self.tokens.get("patient"), self.tokens.get("family")
        if not getattr(self, "_partial_grant", None):
            self._partial_grant = self.call(
                "POST",
                f"/v1/persons/{me}/grants",
                patient,
                {
                    "grantee": {"accountId": self.ids["accountId"][0]},
                    "categories": ["activity"],
                    "access": "read",
                    "purpose": "family",
                },
            )
        if not self._partial_grant:
            return False
        url = self.url(path, {"personId": me, "code": "3D045000001906202"}) + query
        return self.send(method, path, url, family) == 403

    def duplicate_org(self):
        """409: a second organization with an institution code already registered."""
        admin = self.tokens.get("admin")
        body = {"kind": "hospital", "name": "重複確認病院", "code": f"13{uuid.uuid4().int % 10**8:08d}"}
        if not self.call("POST", "/v1/orgs", admin, body):
            return False
        return self.send("POST", "/v1/orgs", "/v1/orgs", admin, body) == 409

    def duplicate_member(self):
        """409: the same role given twice, in a fresh organization (the nurse
        becomes a clinician of a hospital nobody has granted anything)."""
        admin = self.tokens.get("admin")
        org = self.call("POST", "/v1/orgs", admin, {"kind": "hospital", "name": "役割確認病院"})
        if not org or "orgId" not in org:
            return False
        path = "/v1/orgs/{orgId}/members"
        url = f"/v1/orgs/{org['orgId']}/members"
        body = {"accountId": self.ids["accountId"][1], "role": "clinician"}
        self.send("POST", path, url, admin, body)
        return self.send("POST", path, url, admin, body) == 409

    def probe(self, method, path, status):
        scenario = SCENARIOS.get((method, path, status))
        if scenario and scenario(self, method, path):
            return True
        op = self.spec["paths"][path][method.lower()]
        patient = self.tokens.get("patient")
        body = self.body(op)
        params = [s[1:-1] for s in path.split("/") if s.startswith("{")]
        attempts = []
        if status == 400:
            attempts += [(patient, {p: "not-a-uuid"}, body) for p in params]
            attempts.append((patient, None, b"{"))
        elif status == 401:
            attempts.append((None, None, body))
        elif status == 403:
            attempts += [(t, None, body) for k, t in self.tokens.items() if k not in ("patient", "admin")]
        elif status == 404:
            attempts += [(t, {p: UNKNOWN}, body) for p in params for t in (patient, self.tokens.get("admin"))]
        elif status == 409:
            attempts += [(t, None, body) for t in (patient, self.tokens.get("admin"), patient)]
        elif status == 413:
            attempts.append((patient, None, b'{"x":"' + b"a" * BIG + b'"}'))
        elif status == 415:
            attempts.append((patient, None, ("text/plain", b"{}")))
        elif status == 422:
            attempts.append((patient, None, {}))
            if isinstance(body, dict):
                for k, v in body.items():
                    if isinstance(v, str):
                        attempts.append((patient, None, {**body, k: ""}))
        for token, override, payload in attempts:
            content_type = "application/json"
            if isinstance(payload, tuple):
                content_type, payload = payload
            if payload is None and method in ("POST", "PUT", "PATCH") and status in (413, 415):
                continue
            if self.send(method, path, self.url(path, override), token, payload, content_type) == status:
                return True
        return False


# Documented errors that need a specific state first, and the method that builds it.
def _labs(query=""):
    return lambda prober, method, path: prober.as_partial_grantee(method, path, query)


SCENARIOS = {
    ("POST", "/v1/share-codes/redeem", 403): lambda prober, *_: prober.redeem_as_non_staff(),
    ("GET", "/v1/persons/{personId}/labs", 403): _labs(),
    ("GET", "/v1/persons/{personId}/labs/{code}/series", 403): _labs(),
    ("GET", "/v1/persons/{personId}/observations", 403): _labs("?category=labs"),
    ("GET", "/v1/persons/{personId}/observations/summary", 403): _labs("?kind=hba1c"),
    ("GET", "/v1/persons/{personId}/timeline", 403): _labs("?categories=labs"),
    ("POST", "/v1/orgs", 409): lambda prober, *_: prober.duplicate_org(),
    ("POST", "/v1/orgs/{orgId}/members", 409): lambda prober, *_: prober.duplicate_member(),
}


def run(base, spec, seed, missing):
    prober = Prober(base, spec, seed)
    for method, path, status in missing:
        prober.probe(method, path, status)
    return prober.observed
