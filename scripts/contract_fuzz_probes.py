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

Errors that need a particular state first have a scenario in `SCENARIOS`,
tried before the generic attempts. Scenarios build that state through the
API on fresh accounts no seeded id names, so the fuzz never touched them and
nothing they do (a refused erasure, a refused claim) reaches the seeded
actors: an owner with a labs reading, a fired alert and a dependent, a
grantee holding only an `activity` grant on them, and a hospital with a
clinician, an upload client (client_credentials) and the owner linked to
the sample SS-MIX2 patient with an imported prescription.

Only what the server answered counts: a probe never marks a status observed
that it did not receive.
"""

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

UNKNOWN = "01a2511d-6b14-7779-be11-3c9b531ce3d1"
BIG = 9 * 1024 * 1024  # over PHR_MAX_BODY_BYTES' default (8 MiB)
PASSWORD = "correct horse battery"  # as scripts/contract_fuzz.py gives every account
SSMIX2 = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "formats", "tests", "fixtures", "ssmix2", "storage"
)
# A prescription (OMP-01) of the sample patient 9999013, as tests/api/clinical.rs uploads it.
RX = "999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1"


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

    # Setup for the scenarios below: requests whose answers build state (never
    # recorded as observed), fresh accounts, and the worlds shared by scenarios.

    def request(self, method, url, token=None, json_body=None, form=None, raw=None):
        """(status, JSON body or None, headers) of a setup request; status None if unanswered."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if json_body is not None:
            headers["Content-Type"], data = "application/json", json.dumps(json_body).encode()
        elif form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urllib.parse.urlencode(form).encode()
        elif raw is not None:
            headers["Content-Type"], data = "application/octet-stream", raw
        req = urllib.request.Request(self.base + url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                status, body, answered = res.status, res.read(), res.headers
        except urllib.error.HTTPError as e:
            status, body, answered = e.code, e.read(), e.headers
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None, None, {}
        try:
            return status, json.loads(body) if body else None, answered
        except ValueError:
            return status, None, answered

    def token_for(self, form):
        """An access token from POST /v1/auth/token. The fuzz may have spent this
        minute's token budget of the IP (429): wait it out once, as told."""
        for _ in range(2):
            status, body, headers = self.request("POST", "/v1/auth/token", form=form)
            if status == 200:
                return body["access_token"]
            if status != 429:
                return None
            time.sleep(min(61, int(headers.get("Retry-After", "60"))))
        return None

    def account(self, label):
        """A fresh account no seeded id names (the fuzz never touches it):
        {token, accountId, personId}, or None."""
        email = f"probe-{label}-{uuid.uuid4().hex[:8]}@example.jp"
        status, reg, _ = self.request(
            "POST", "/v1/accounts", json_body={"email": email, "password": PASSWORD, "displayName": f"確認 {label}"}
        )
        if status != 201:
            return None
        token = self.token_for({"grant_type": "password", "username": email, "password": PASSWORD})
        return token and {"token": token, "accountId": reg["accountId"], "personId": reg["personId"]}

    def observe(self, who, observation):
        """Writes one observation to `who`'s own record; its id, or None."""
        obs = {"id": str(uuid.uuid4()), "source": {"app": "contract probe", "method": "manual"}, **observation}
        status, body, _ = self.request(
            "POST", f"/v1/persons/{who['personId']}/observations/batch", who["token"], {"observations": [obs]}
        )
        results = (body or {}).get("results") or [{}]
        return obs["id"] if status == 200 and results[0].get("status") != "rejected" else None

    def family(self):
        """An owner and a grantee with an `activity`-only read grant on the
        owner's record; the owner has a labs reading, a blood-pressure alert
        (their own rule fired) and a dependent only they look after. Built once."""
        if hasattr(self, "_family"):
            return self._family
        self._family = None
        owner, grantee = self.account("owner"), self.account("grantee")
        if not owner or not grantee:
            return None
        me = owner["personId"]
        status, _, _ = self.request(
            "POST",
            f"/v1/persons/{me}/grants",
            owner["token"],
            {
                "grantee": {"accountId": grantee["accountId"]},
                "categories": ["activity"],
                "access": "read",
                "purpose": "family",
            },
        )
        rule, _, _ = self.request(
            "POST",
            f"/v1/persons/{me}/alert-rules",
            owner["token"],
            {"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 140},
        )
        labs = self.observe(owner, {"kind": "hba1c", "value": 6.1, "unit": "%", "effectiveAt": "2026-01-05T07:00:00Z"})
        bp = self.observe(
            owner,
            {
                "kind": "blood_pressure",
                "components": {
                    "systolic": {"value": 152, "unit": "mm[Hg]"},
                    "diastolic": {"value": 96, "unit": "mm[Hg]"},
                },
                "effectiveAt": "2026-01-06T07:00:00Z",
            },
        )
        _, alerts, _ = self.request("GET", "/v1/alerts", owner["token"])
        alert = next((a["alertId"] for a in (alerts or {}).get("items", []) if a.get("observationId") == bp), None)
        _, child, _ = self.request(
            "POST", "/v1/persons", owner["token"], {"displayName": "確認 子", "birthDate": "2020-04-01"}
        )
        if status != 201 or rule != 201 or not labs:
            return None
        self._family = {
            "owner": owner,
            "grantee": grantee,
            "labsObservation": labs,
            "alert": alert,
            "dependent": (child or {}).get("personId"),
        }
        return self._family

    def hospital(self):
        """A hospital (made by the admin) with a clinician and an upload client
        (its client_credentials token), and the family owner with a treatment
        grant to it, linked to the sample patient 9999013 and holding the
        imported sample prescription. Built once."""
        if hasattr(self, "_hospital"):
            return self._hospital
        self._hospital = None
        admin, fam = self.tokens.get("admin"), self.family()
        clinician = self.account("clinician")
        if not fam or not clinician:
            return None
        _, org, _ = self.request("POST", "/v1/orgs", admin, {"kind": "hospital", "name": "確認病院"})
        org_id = (org or {}).get("orgId")
        if not org_id:
            return None
        self.request(
            "POST", f"/v1/orgs/{org_id}/members", admin, {"accountId": clinician["accountId"], "role": "clinician"}
        )
        _, client, _ = self.request("POST", f"/v1/orgs/{org_id}/clients", admin, {"name": "確認 uploader"})
        if not client or not client.get("clientSecret"):
            return None
        facility = self.token_for(
            {
                "grant_type": "client_credentials",
                "client_id": client["clientId"],
                "client_secret": client["clientSecret"],
            }
        )
        owner = fam["owner"]
        self.treatment_grant(owner, org_id)
        status, _, _ = self.request(
            "POST",
            f"/v1/persons/{owner['personId']}/links",
            clinician["token"],
            {"orgId": org_id, "localPatientId": "9999013"},
        )
        document = None
        if facility and status == 201:
            with open(os.path.join(SSMIX2, RX), "rb") as f:
                q = urllib.parse.urlencode({"path": RX})
                status, r, _ = self.request("POST", f"/v1/ingest/ssmix2?{q}", facility, raw=f.read())
            if status in (200, 201) and (r or {}).get("status") == "imported":
                document = r["documentId"]
        self._hospital = {
            "orgId": org_id,
            "clinician": clinician,
            "client": client,
            "facility": facility,
            "document": document,
        }
        return self._hospital

    def treatment_grant(self, who, org_id):
        status, _, _ = self.request(
            "POST",
            f"/v1/persons/{who['personId']}/grants",
            who["token"],
            {
                "grantee": {"orgId": org_id},
                "categories": ["labs", "medications"],
                "access": "read",
                "purpose": "treatment",
            },
        )
        return status == 201

    def grantee_reads_labs_observation(self, method, path):
        """403: the grantee (activity only) asks for the owner's HbA1c reading."""
        fam = self.family()
        if not fam:
            return False
        url = self.url(path, {"personId": fam["owner"]["personId"], "observationId": fam["labsObservation"]})
        return self.send(method, path, url, fam["grantee"]["token"]) == 403

    def grantee_acks_vitals_alert(self, method, path):
        """403: the grantee (activity only) acknowledges the owner's blood-pressure alert."""
        fam = self.family()
        if not fam or not fam["alert"]:
            return False
        return self.send(method, path, self.url(path, {"id": fam["alert"]}), fam["grantee"]["token"]) == 403

    def grantee_enrolls_owner(self, method, path):
        """403: a grantee enrols the person they hold a grant on (only the
        person and guardians enrol)."""
        fam = self.family()
        if not fam:
            return False
        body = {"personId": fam["owner"]["personId"]}
        return self.send(method, path, self.url(path), fam["grantee"]["token"], body) == 403

    def sole_guardian_closes_account(self, method, path):
        """409: the owner, sole guardian of a dependent, closes the account
        without `eraseDependents` (nothing is erased)."""
        fam = self.family()
        if not fam or not fam["dependent"]:
            return False
        return self.send(method, path, path, fam["owner"]["token"], {"password": PASSWORD}) == 409

    def claim_into_a_record_with_data(self, method, path):
        """409: the grantee, whose own record already holds an observation,
        claims the owner's dependent's transfer code (it stays unclaimed)."""
        fam = self.family()
        if not fam or not fam["dependent"]:
            return False
        status, t, _ = self.request("POST", f"/v1/persons/{fam['dependent']}/transfer", fam["owner"]["token"])
        grantee = fam["grantee"]
        if status != 201 or not self.observe(
            grantee, {"kind": "body_weight", "value": 63.4, "unit": "kg", "effectiveAt": "2026-01-06T07:00:00Z"}
        ):
            return False
        return self.send(method, path, path, grantee["token"], {"code": t["code"]}) == 409

    def review_imported_document(self, method, path):
        """409: accept or reject a document that was imported (not held)."""
        h, fam = self.hospital(), self.family()
        if not h or not h["document"]:
            return False
        url = self.url(path, {"personId": fam["owner"]["personId"], "documentId": h["document"]})
        return self.send(method, path, url, fam["owner"]["token"]) == 409

    def link_taken_id(self, method, path):
        """409: the clinician links the grantee, on a treatment grant too, to
        the facility patient ID already linked to the owner."""
        h, fam = self.hospital(), self.family()
        if not h or not self.treatment_grant(fam["grantee"], h["orgId"]):
            return False
        url = self.url(path, {"personId": fam["grantee"]["personId"]})
        body = {"orgId": h["orgId"], "localPatientId": "9999013"}
        return self.send(method, path, url, h["clinician"]["token"], body) == 409

    def program_of_a_hospital(self, method, path):
        """409: the admin creates a programme in a hospital (only municipalities run them)."""
        h = self.hospital()
        if not h:
            return False
        body = {"name": "確認プログラム", "categories": ["vitals"], "purpose": "public_health"}
        return self.send(method, path, self.url(path, {"orgId": h["orgId"]}), self.tokens.get("admin"), body) == 409

    def unknown_card(self, method, path):
        """404: a clinician of a hospital opens a well-formed card UID nobody registered."""
        h = self.hospital()
        if not h:
            return False
        body = {"cardUid": "04:11:22:33:44:55:66", "reason": "確認: 救急搬送"}
        return self.send(method, path, path, h["clinician"]["token"], body) == 404

    def wrong_client_secret(self, method, path):
        """401 invalid_client: client_credentials (form-encoded) with a wrong secret."""
        h = self.hospital()
        if not h:
            return False
        form = {"grant_type": "client_credentials", "client_id": h["client"]["clientId"], "client_secret": "wrong"}
        data = urllib.parse.urlencode(form).encode()
        return self.send(method, path, path, None, data, "application/x-www-form-urlencoded") == 401

    def upload_as_facility(self, method, path, status):
        """As the hospital's upload client: 400 without the `path` parameter,
        413 over the body limit, 422 for a file that is not HL7."""
        h = self.hospital()
        if not h or not h["facility"]:
            return False
        # Not the prescription's own name: a 422 must not be "already received".
        q = "?" + urllib.parse.urlencode({"path": RX.replace("224603984", "224603999")})
        url, body = {400: (path, b"MSH|"), 413: (path + q, b"a" * BIG), 422: (path + q, b"MSH|garbage")}[status]
        return self.send(method, path, url, h["facility"], body, "application/octet-stream") == status

    def as_patient(self, method, path, status, override, query=""):
        """The seeded patient, with some path parameters and a query of the scenario's choosing."""
        url = self.url(path, override) + query
        return self.send(method, path, url, self.tokens.get("patient")) == status

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


def _ingest(status):
    return lambda prober, method, path: prober.upload_as_facility(method, path, status)


def _as_patient(status, override, query=""):
    return lambda prober, method, path: prober.as_patient(method, path, status, override, query)


SCENARIOS = {
    ("POST", "/v1/share-codes/redeem", 403): lambda prober, *_: prober.redeem_as_non_staff(),
    ("GET", "/v1/persons/{personId}/labs", 403): _labs(),
    ("GET", "/v1/persons/{personId}/labs/{code}/series", 403): _labs(),
    ("GET", "/v1/persons/{personId}/observations", 403): _labs("?category=labs"),
    ("GET", "/v1/persons/{personId}/observations/summary", 403): _labs("?kind=hba1c"),
    ("GET", "/v1/persons/{personId}/timeline", 403): _labs("?categories=labs"),
    ("POST", "/v1/orgs", 409): lambda prober, *_: prober.duplicate_org(),
    ("POST", "/v1/orgs/{orgId}/members", 409): lambda prober, *_: prober.duplicate_member(),
    ("GET", "/v1/persons/{personId}/observations/{observationId}", 403): Prober.grantee_reads_labs_observation,
    ("POST", "/v1/alerts/{id}/ack", 403): Prober.grantee_acks_vitals_alert,
    ("POST", "/v1/programs/{programId}/enrollments", 403): Prober.grantee_enrolls_owner,
    ("DELETE", "/v1/me", 409): Prober.sole_guardian_closes_account,
    ("POST", "/v1/transfers/claim", 409): Prober.claim_into_a_record_with_data,
    ("POST", "/v1/persons/{personId}/clinical-documents/{documentId}/accept", 409): Prober.review_imported_document,
    ("POST", "/v1/persons/{personId}/clinical-documents/{documentId}/reject", 409): Prober.review_imported_document,
    ("POST", "/v1/persons/{personId}/links", 409): Prober.link_taken_id,
    ("POST", "/v1/orgs/{orgId}/programs", 409): Prober.program_of_a_hospital,
    ("POST", "/v1/emergency/access", 404): Prober.unknown_card,
    ("POST", "/v1/auth/token", 401): Prober.wrong_client_secret,
    ("POST", "/v1/ingest/ssmix2", 400): _ingest(400),
    ("POST", "/v1/ingest/ssmix2", 413): _ingest(413),
    ("POST", "/v1/ingest/ssmix2", 422): _ingest(422),
    # The kind is checked before the consent read: without it an unknown person is a 422.
    ("GET", "/v1/persons/{personId}/observations/summary", 404): _as_patient(
        404, {"personId": UNKNOWN}, "?kind=body_weight"
    ),
    # A code is 1 to 64 characters (the generic probe's UUID is a valid one).
    ("GET", "/v1/persons/{personId}/labs/{code}/series", 422): _as_patient(422, {"code": "3D046" * 13}),
}


def run(base, spec, seed, missing):
    prober = Prober(base, spec, seed)
    for method, path, status in missing:
        prober.probe(method, path, status)
    return prober.observed
