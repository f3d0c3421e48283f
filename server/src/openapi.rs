//! The OpenAPI document: routes and schemas are registered once, in
//! [`routes`], and both the server and `phr openapi` derive the spec from it.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, scope, service_config::ServiceConfig};

use crate::error::{FieldError, Problem};
use crate::{
    accounts, alerts, clinical, consent, devices, emergency, export, health, medications, notify,
    observations, oidc, orgs, public_health, sync, timeline,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PHR API",
        description = "Personal health record and sync service for a regional medical network. \
                       Errors are RFC 9457 `application/problem+json` with a stable `code`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Registration and the signed-in account"),
        (name = "auth", description = "OAuth 2.0 tokens"),
        (name = "oidc", description = "External sign-in with OpenID Connect providers: authorization code with PKCE, ending in this service's tokens"),
        (name = "devices", description = "The account's devices and push tokens"),
        (name = "observations", description = "Patient-entered health data from health apps"),
        (name = "consent", description = "Dependents, guardians, grants, invitations and the access log"),
        (name = "organizations", description = "Organizations of the network and their members"),
        (name = "medications", description = "お薬手帳 QR codes, dispensings, current medications, allergies and notes"),
        (name = "clinical", description = "SS-MIX2 data from the network's facilities: uploads, patient links, lab results"),
        (name = "timeline", description = "The whole record on one line, with sources and cross-links"),
        (name = "notifications", description = "Inbox, push preferences and alerts"),
        (name = "emergency", description = "IC cards and the minimum emergency dataset for clinicians"),
        (name = "public_health", description = "Municipal programmes: enrolment, nurses' residents list, guidance notes, statistics"),
        (name = "export", description = "The whole record as FHIR R4, FHIR NDJSON or CSV"),
        (name = "sync", description = "Offline-first change feed and device pushes"),
        (name = "operations", description = "Health checks and problem types"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some("Access token from `POST /v1/auth/token`.".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// Every route of the API. Registering here is what puts an endpoint both in
/// the server and in the spec.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::problem_type)
        .service(accounts::http::jwks)
        .service(
            scope::scope("/v1")
                .service(accounts::http::register)
                .service(accounts::http::token)
                .service(accounts::http::revoke)
                .service(oidc::http::authorize)
                .service(oidc::http::callback)
                .service(oidc::http::token)
                .service(accounts::http::me)
                .service(devices::http::create)
                .service(devices::http::list)
                .service(devices::http::remove)
                .service(observations::http::kinds)
                .service(observations::http::upload)
                // Fixed segments before `{observationId}`, which would otherwise claim them.
                .service(observations::http::summarize)
                .service(observations::http::latest)
                .service(observations::http::list)
                .service(observations::http::get_one)
                .service(observations::http::remove)
                .service(consent::http::list_persons)
                .service(consent::http::create_dependent)
                .service(consent::http::get_person)
                .service(consent::http::update_person)
                .service(accounts::http::erase_me)
                .service(accounts::http::erase_dependent)
                .service(consent::http::create_grant)
                .service(consent::http::list_grants)
                .service(consent::http::revoke_grant)
                .service(consent::http::create_invitation)
                .service(consent::http::accept_invitation)
                .service(consent::http::add_guardian)
                .service(consent::http::list_guardians)
                .service(consent::http::remove_guardian)
                .service(consent::http::access_log)
                .service(consent::http::create_transfer)
                .service(consent::http::claim_transfer)
                .service(consent::http::create_share_code)
                .service(consent::http::redeem_share_code)
                .service(medications::http::scan)
                .service(medications::http::current)
                .service(medications::http::export)
                .service(medications::http::list)
                .service(medications::http::get_one)
                .service(medications::http::remove)
                .service(medications::http::facts)
                .service(orgs::http::create)
                .service(orgs::http::list)
                .service(orgs::http::get_one)
                .service(orgs::http::add_member)
                .service(orgs::http::list_members)
                .service(orgs::http::remove_member)
                .service(orgs::http::create_client)
                .service(orgs::http::list_clients)
                .service(orgs::http::revoke_client)
                .service(clinical::http::ingest)
                .service(clinical::http::create_link)
                .service(clinical::http::list_links)
                .service(clinical::http::remove_link)
                .service(clinical::http::labs)
                .service(clinical::http::prescriptions)
                .service(clinical::http::lab_series)
                .service(clinical::http::documents)
                .service(clinical::http::accept_document)
                .service(clinical::http::reject_document)
                .service(timeline::http::timeline)
                .service(export::http::export)
                .service(notify::http::inbox)
                .service(notify::http::read)
                .service(notify::http::get_preferences)
                .service(notify::http::put_preferences)
                .service(alerts::http::create)
                .service(alerts::http::list)
                .service(alerts::http::remove)
                .service(alerts::http::create_for_org)
                .service(alerts::http::list_for_org)
                .service(alerts::http::remove_for_org)
                .service(alerts::http::alerts)
                .service(alerts::http::ack)
                .service(public_health::http::create_program)
                .service(public_health::http::org_programs)
                .service(public_health::http::programs)
                .service(public_health::http::enroll)
                .service(public_health::http::leave)
                .service(public_health::http::residents)
                .service(public_health::http::program_stats)
                .service(public_health::http::write_note)
                .service(public_health::http::list_notes)
                .service(emergency::http::register_card)
                .service(emergency::http::list_cards)
                .service(emergency::http::retire_card)
                .service(emergency::http::get_settings)
                .service(emergency::http::put_settings)
                .service(emergency::http::open_record)
                .service(emergency::http::list_accesses)
                .service(sync::http::changes)
                .service(sync::http::push),
        );
}

pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, mut spec) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    document_extractor_errors(&mut spec);
    spec
}

/// The errors the shared extractors answer for every operation of a given
/// shape, documented once here rather than remembered in each `responses(...)`
/// (the contract fuzzer found dozens of operations that forgot one):
/// a bearer-protected operation can answer 401; one with query parameters or
/// typed path parameters 400 (`crate::http::path_error`, `query_error`: not a
/// UUID, not a number); one with a JSON body 400 (malformed), 413, 415 and 422
/// (`crate::http::Json`). A handler's own description of a status wins.
fn document_extractor_errors(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::{Content, Ref, RefOr, Response};

    fn add(op: &mut Operation, status: &str, description: &str) {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| {
            let mut res = Response::new(description);
            res.content.insert(
                crate::error::PROBLEM_JSON.to_owned(),
                RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
            );
            RefOr::T(res)
        });
    }

    for item in spec.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            let params = op.parameters.iter().flatten().filter_map(|p| match p {
                RefOr::T(p) => Some(p),
                RefOr::Ref(_) => None,
            });
            let (mut path, mut query) = (false, false);
            for p in params {
                // actix decodes a path segment into a `String` lossily, so only a
                // typed segment (a UUID, a number) can be unreadable.
                let plain_string =
                    p.schema.as_ref().and_then(|s| serde_json::to_value(s).ok()).is_some_and(|v| {
                        v.get("type").is_some_and(|t| t == "string") && v.get("format").is_none()
                    });
                path |= matches!(p.parameter_in, ParameterIn::Path) && !plain_string;
                query |= matches!(p.parameter_in, ParameterIn::Query);
            }
            let json_body =
                matches!(&op.request_body, Some(RefOr::T(b)) if b.content.contains_key("application/json"));
            let bearer = op
                .security
                .iter()
                .flatten()
                .any(|s| serde_json::to_value(s).is_ok_and(|v| v.get("bearer").is_some()));
            if bearer {
                add(op, "401", "Missing or invalid token");
            }
            if json_body {
                add(op, "400", "Malformed JSON, or an unreadable path or query parameter");
                add(op, "413", "Body larger than the configured limit");
                add(op, "415", "Body not sent as `application/json`");
                add(op, "422", "Invalid field; `errors` names it");
            } else if path || query {
                add(op, "400", "Unreadable path or query parameter; `errors` names it");
            }
        }
    }
}

/// The spec as checked in at `openapi/openapi.json`.
pub fn spec_json() -> anyhow::Result<String> {
    Ok(spec().to_pretty_json()? + "\n")
}
