use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::{Value, json};
use uuid::Uuid;

both_databases!(
    a_family_read_grant_shows_vitals_but_not_notes_and_cannot_write,
    revocation_takes_effect_on_the_next_request,
    an_expired_grant_no_longer_reaches_the_record,
    invitation_is_accepted_once_into_a_grant,
    nurses_of_the_granted_municipality_read_and_others_do_not,
    access_log_shows_family_and_nurse_reads_with_purpose,
    audit_verify_detects_a_modified_entry,
    an_entry_appended_by_another_instance_is_chained_after,
    guardians_manage_a_dependents_record,
    grantees_cannot_re_share,
    persons_lists_every_reachable_record_with_its_access,
    a_dependent_claims_their_record_with_their_own_account,
);

pub fn bp(at: &str) -> Value {
    json!({"id": Uuid::new_v4(), "kind": "blood_pressure", "effectiveAt": at,
           "components": {"systolic": {"value": 150, "unit": "mm[Hg]"}, "diastolic": {"value": 95, "unit": "mm[Hg]"}},
           "source": {"app": "OMRON connect", "device": "cuff", "method": "device"}})
}

pub async fn grant(
    app: &TestApp,
    owner: &str,
    person: &str,
    grantee: Value,
    categories: &[&str],
    access: &str,
    purpose: &str,
) -> Value {
    let (status, g) = app
        .post_json(
            &format!("/v1/persons/{person}/grants"),
            Some(owner),
            &json!({"grantee": grantee, "categories": categories, "access": access, "purpose": purpose}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    g
}

/// A system administrator, an organization of `kind`, and a member with `role`: (org id, member token).
pub async fn org_with_member(
    app: &TestApp,
    admin: &str,
    kind: &str,
    name: &str,
    email: &str,
    role: &str,
) -> (String, String, String) {
    let (status, org) = app.post_json("/v1/orgs", Some(admin), &json!({"kind": kind, "name": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org_id = org["orgId"].as_str().unwrap().to_owned();
    let (token, account, _) = app.user(email).await;
    let (status, body) = app
        .post_json(
            &format!("/v1/orgs/{org_id}/members"),
            Some(admin),
            &json!({"accountId": account, "role": role}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (org_id, token, account)
}

pub async fn admin(app: &TestApp) -> String {
    let (token, account, _) = app.user(&format!("admin-{}@example.jp", Uuid::new_v4().simple())).await;
    app.make_admin(&account).await;
    token
}

async fn a_family_read_grant_shows_vitals_but_not_notes_and_cannot_write(app: TestApp) {
    let (father, _, person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    let reading = bp("2026-01-06T07:00:00+09:00");
    app.post_json(
        &format!("/v1/persons/{person}/observations/batch"),
        Some(&father),
        &json!({"observations": [reading]}),
    )
    .await;
    let g = grant(
        &app,
        &father,
        &person,
        json!({"accountId": daughter_account}),
        &["vitals", "medications"],
        "read",
        "family",
    )
    .await;
    assert_eq!(g["status"], "active");
    assert_eq!(g["categories"], json!(["vitals", "medications"]));
    let (status, list) = app.get(&format!("/v1/persons/{person}/observations"), Some(&daughter)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["id"], reading["id"]);
    let (status, _) = app
        .get(&format!("/v1/persons/{person}/observations/summary?kind=blood_pressure"), Some(&daughter))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        app.get(&format!("/v1/persons/{person}/observations?category=activity"), Some(&daughter)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(&daughter),
            &json!({"observations": [bp("2026-01-07T07:00:00+09:00")]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

async fn revocation_takes_effect_on_the_next_request(app: TestApp) {
    let (father, _, person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    let g =
        grant(&app, &father, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
            .await;
    let path = format!("/v1/persons/{person}/observations/latest");
    assert_eq!(app.get(&path, Some(&daughter)).await.0, StatusCode::OK);
    let (status, _) = app
        .delete(&format!("/v1/persons/{person}/grants/{}", g["grantId"].as_str().unwrap()), Some(&father))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The same access token, the very next request.
    let (status, body) = app.get(&path, Some(&daughter)).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, grants) = app.get(&format!("/v1/persons/{person}/grants"), Some(&father)).await;
    assert_eq!(grants["items"][0]["status"], "revoked");
    assert!(grants["items"][0]["revokedAt"].is_string());
}

async fn an_expired_grant_no_longer_reaches_the_record(app: TestApp) {
    let (father, _, person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let (status, g) = app
        .post_json(
            &format!("/v1/persons/{person}/grants"),
            Some(&father),
            &json!({"grantee": {"accountId": daughter_account}, "categories": ["vitals"], "access": "read",
                    "purpose": "family", "expiresAt": soon}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let path = format!("/v1/persons/{person}/observations");
    assert_eq!(app.get(&path, Some(&daughter)).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert_eq!(app.get(&path, Some(&daughter)).await.0, StatusCode::NOT_FOUND);
    let (_, grants) = app.get(&format!("/v1/persons/{person}/grants"), Some(&father)).await;
    assert_eq!(grants["items"][0]["status"], "expired");
    let (status, body) = app
        .post_json(
            &format!("/v1/persons/{person}/grants"),
            Some(&father),
            &json!({"grantee": {"accountId": daughter_account}, "categories": ["vitals"], "access": "read",
                    "purpose": "family", "expiresAt": "2020-01-01T00:00:00+09:00"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "expiresAt");
}

async fn invitation_is_accepted_once_into_a_grant(app: TestApp) {
    let (father, _, person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    let (son, _, _) = app.user("son@example.jp").await;
    let (status, inv) = app
        .post_json(
            &format!("/v1/persons/{person}/invitations"),
            Some(&father),
            &json!({"categories": ["vitals", "medications"], "access": "read", "purpose": "family"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    let code = inv["code"].as_str().unwrap();
    assert_eq!(code.len(), 11, "XXXXX-XXXXX");
    // Typed on a phone: lower case, no dash.
    let typed = code.replace('-', "").to_lowercase();
    let (status, g) = app.post_json("/v1/invitations/accept", Some(&daughter), &json!({"code": typed})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!(g["grantee"]["accountId"], daughter_account.as_str());
    assert_eq!(g["personId"], person.as_str());
    assert_eq!(
        app.get(&format!("/v1/persons/{person}/observations"), Some(&daughter)).await.0,
        StatusCode::OK
    );
    let (status, body) = app.post_json("/v1/invitations/accept", Some(&son), &json!({"code": code})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "code");
    let (_, inv2) = app
        .post_json(
            &format!("/v1/persons/{person}/invitations"),
            Some(&father),
            &json!({"categories": ["vitals"], "access": "read", "purpose": "family"}),
        )
        .await;
    let (status, _) =
        app.post_json("/v1/invitations/accept", Some(&father), &json!({"code": inv2["code"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not to one's own record");
}

async fn nurses_of_the_granted_municipality_read_and_others_do_not(app: TestApp) {
    let admin = admin(&app).await;
    let (resident, _, person) = app.user("resident@example.jp").await;
    let (tone, nurse, _) =
        org_with_member(&app, &admin, "municipality", "利根町", "nurse@tone.example.jp", "nurse").await;
    let (_, other_nurse, _) =
        org_with_member(&app, &admin, "municipality", "他市", "nurse@other.example.jp", "nurse").await;
    let (_, clerk, clerk_account) =
        org_with_member(&app, &admin, "municipality", "利根町事務", "clerk@tone.example.jp", "admin").await;
    let _ = clerk_account;
    grant(&app, &resident, &person, json!({"orgId": tone}), &["vitals"], "read", "public_health").await;
    let path = format!("/v1/persons/{person}/observations");
    assert_eq!(app.get(&path, Some(&nurse)).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, Some(&other_nurse)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&path, Some(&clerk)).await.0, StatusCode::NOT_FOUND, "a member of another org");
    let (status, body) = app.post_json(&format!("/v1/persons/{person}/grants"), Some(&resident),
        &json!({"grantee": {"orgId": tone}, "categories": ["vitals"], "access": "read", "purpose": "family"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "purpose");
}

async fn access_log_shows_family_and_nurse_reads_with_purpose(app: TestApp) {
    let admin = admin(&app).await;
    let (resident, _, person) = app.user("resident@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    let (tone, nurse, nurse_account) =
        org_with_member(&app, &admin, "municipality", "利根町", "nurse@tone.example.jp", "nurse").await;
    grant(&app, &resident, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
        .await;
    grant(&app, &resident, &person, json!({"orgId": tone}), &["vitals"], "read", "public_health").await;
    // The person's own reads are not logged.
    app.get(&format!("/v1/persons/{person}/observations"), Some(&resident)).await;
    app.get(&format!("/v1/persons/{person}/observations"), Some(&daughter)).await;
    app.get(&format!("/v1/persons/{person}/observations/summary?kind=blood_pressure"), Some(&nurse)).await;
    let (status, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&resident)).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{log}");
    let nurse_entry = &items[0];
    assert_eq!(nurse_entry["actor"]["accountId"], nurse_account.as_str());
    assert_eq!(nurse_entry["actor"]["orgId"], tone.as_str());
    assert_eq!(nurse_entry["actor"]["orgName"], "利根町");
    assert_eq!(nurse_entry["purpose"], "public_health");
    assert_eq!(nurse_entry["action"], "read");
    assert_eq!(nurse_entry["resource"], "observations/summary");
    assert_eq!(nurse_entry["categories"], json!(["vitals"]));
    let family_entry = &items[1];
    assert_eq!(family_entry["actor"]["accountId"], daughter_account.as_str());
    assert_eq!(family_entry["actor"]["displayName"], "Test User");
    assert_eq!(family_entry["purpose"], "family");
    assert_eq!(family_entry["resource"], "observations");
    // The grantee cannot read the log.
    let (status, body) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&daughter)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

async fn audit_verify_detects_a_modified_entry(app: TestApp) {
    let (resident, _, person) = app.user("resident@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    grant(&app, &resident, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
        .await;
    for _ in 0..3 {
        app.get(&format!("/v1/persons/{person}/observations"), Some(&daughter)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("phr.toml");
    std::fs::write(&config, format!("database_url = {:?}\n", app.database_url)).unwrap();
    let verify = || {
        let cli = <phr::cli::Cli as clap::Parser>::try_parse_from([
            "phr",
            "--config",
            config.to_str().unwrap(),
            "audit",
            "verify",
        ])
        .unwrap();
        phr::cli::run(cli)
    };
    verify().await.expect("an untouched log verifies");
    // Someone with database access hides that the daughter read the record.
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let entries =
        phr::consent::audit::list(&db, person.parse().unwrap(), None, None, None, 10).await.unwrap();
    assert_eq!(entries.len(), 3);
    let second = entries.iter().find(|e| e.seq == 2).unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    phr::entities::access_log::Entity::update_many()
        .col_expr(phr::entities::access_log::Column::Resource, Expr::value("grants"))
        .filter(phr::entities::access_log::Column::Id.eq(second.id))
        .exec(&db)
        .await
        .unwrap();
    let err = verify().await.expect_err("the modified entry is detected");
    let msg = err.to_string();
    assert!(msg.contains(&format!("person {person} entry 2")), "{msg}");
    assert!(msg.contains("modified"), "{msg}");
    let (checked, broken) = phr::consent::audit::verify(&db).await.unwrap();
    assert_eq!((checked, broken.map(|b| b.seq)), (1, Some(2)));
    // Deleting an entry instead breaks the chain after it.
    phr::entities::access_log::Entity::delete_many()
        .filter(phr::entities::access_log::Column::Id.eq(second.id))
        .exec(&db)
        .await
        .unwrap();
    let (_, broken) = phr::consent::audit::verify(&db).await.unwrap();
    let b = broken.unwrap();
    assert_eq!(b.seq, 3);
    assert!(b.reason.contains("missing"), "{}", b.reason);
}

/// The server remembers the chain head it appended last; an entry another
/// instance appended since is caught by the unique `(person_id, seq)` and the
/// next access is chained after it, never beside it.
async fn an_entry_appended_by_another_instance_is_chained_after(app: TestApp) {
    let (resident, _, person) = app.user("resident@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    grant(&app, &resident, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
        .await;
    let path = format!("/v1/persons/{person}/observations");
    let read = || app.get(&path, Some(&daughter));
    assert_eq!(read().await.0, StatusCode::OK);
    assert_eq!(read().await.0, StatusCode::OK);
    // Another instance logs an access: seq 3, chained on the real head.
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let person_id: Uuid = person.parse().unwrap();
    let head = phr::consent::audit::list(&db, person_id, None, None, None, 1).await.unwrap().remove(0);
    assert_eq!(head.seq, 2);
    let mut other = phr::entities::access_log::Model {
        id: Uuid::now_v7(),
        seq: 3,
        at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
        resource: "timeline".into(),
        prev_hash: head.hash.clone(),
        hash: String::new(),
        ..head
    };
    other.hash = phr::consent::audit::entry_hash(&other);
    use sea_orm::EntityTrait;
    phr::entities::access_log::Entity::insert(phr::entities::access_log::ActiveModel::from(other.clone()))
        .exec_without_returning(&db)
        .await
        .unwrap();
    // After one more read the chain is 1-2-3-4, entry 4 chained on the other
    // instance's 3, and it verifies; returns entry 4.
    let read_then_check = || async {
        assert_eq!(read().await.0, StatusCode::OK);
        let entries = phr::consent::audit::list(&db, person_id, None, None, None, 10).await.unwrap();
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [4, 3, 2, 1]);
        assert_eq!(entries[0].prev_hash, other.hash);
        let (_, broken) = phr::consent::audit::verify(&db).await.unwrap();
        assert!(broken.is_none(), "{:?}", broken.map(|b| b.reason));
        entries[0].clone()
    };
    // This server's remembered head (seq 2) is stale: its next entry is 4, after the other's.
    let fourth = read_then_check().await;
    // The database loses its last entry (restored from a backup, failed over to
    // a replica that missed it) while the server remembers it: the next entry
    // follows the head the database holds, leaving no gap.
    use sea_orm::{ColumnTrait, QueryFilter};
    phr::entities::access_log::Entity::delete_many()
        .filter(phr::entities::access_log::Column::Id.eq(fourth.id))
        .exec(&db)
        .await
        .unwrap();
    assert_ne!(read_then_check().await.id, fourth.id);
}

async fn guardians_manage_a_dependents_record(app: TestApp) {
    let (mother, _, _) = app.user("mother@example.jp").await;
    let (father, father_account, _) = app.user("father@example.jp").await;
    let (stranger, _, _) = app.user("stranger@example.jp").await;
    let (status, child) = app
        .post_json(
            "/v1/persons",
            Some(&mother),
            &json!({"displayName": "鈴木 はな", "birthDate": "2019-04-01", "sex": "female"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    let child_id = child["personId"].as_str().unwrap().to_owned();
    assert_eq!(child["relationship"], "guardian");
    let temp = json!({"id": Uuid::new_v4(), "kind": "body_temperature", "value": 38.2, "unit": "Cel",
                      "effectiveAt": "2026-01-06T20:00:00+09:00", "source": {"method": "manual"}});
    let (status, r) = app
        .post_json(
            &format!("/v1/persons/{child_id}/observations/batch"),
            Some(&mother),
            &json!({"observations": [temp]}),
        )
        .await;
    assert_eq!((status, r["results"][0]["status"].as_str()), (StatusCode::OK, Some("created")));
    assert_eq!(
        app.get(&format!("/v1/persons/{child_id}/observations"), Some(&father)).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{child_id}/guardians"),
            Some(&mother),
            &json!({"accountId": father_account}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, list) = app.get(&format!("/v1/persons/{child_id}/observations"), Some(&father)).await;
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    assert_eq!(
        app.get(&format!("/v1/persons/{child_id}/observations"), Some(&stranger)).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, guardians) = app.get(&format!("/v1/persons/{child_id}/guardians"), Some(&father)).await;
    assert_eq!(guardians["items"].as_array().unwrap().len(), 2);
    // Guardians' reads are not someone else's access: nothing logged.
    let (_, log) = app.get(&format!("/v1/persons/{child_id}/access-log"), Some(&mother)).await;
    assert_eq!(log["items"], json!([]));
    let (status, body) = app
        .post_json("/v1/persons", Some(&mother), &json!({"displayName": "未来", "birthDate": "2999-01-01"}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "birthDate");
}

async fn grantees_cannot_re_share(app: TestApp) {
    let (father, _, person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    let (_, cousin_account, _) = app.user("cousin@example.jp").await;
    grant(&app, &father, &person, json!({"accountId": daughter_account}), &["vitals"], "write", "family")
        .await;
    let (status, body) = app
        .post_json(&format!("/v1/persons/{person}/grants"), Some(&daughter),
                   &json!({"grantee": {"accountId": cousin_account}, "categories": ["vitals"], "access": "read", "purpose": "family"}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/invitations"),
            Some(&daughter),
            &json!({"categories": ["vitals"], "access": "read", "purpose": "family"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A write grant does allow adding readings.
    let (status, r) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(&daughter),
            &json!({"observations": [bp("2026-01-06T07:00:00+09:00")]}),
        )
        .await;
    assert_eq!((status, r["results"][0]["status"].as_str()), (StatusCode::OK, Some("created")));
}

async fn persons_lists_every_reachable_record_with_its_access(app: TestApp) {
    let (father, _, father_person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, daughter_person) = app.user("daughter@example.jp").await;
    grant(
        &app,
        &father,
        &father_person,
        json!({"accountId": daughter_account}),
        &["vitals", "medications"],
        "read",
        "family",
    )
    .await;
    let (_, child) = app
        .post_json("/v1/persons", Some(&daughter), &json!({"displayName": "孫", "birthDate": "2020-02-02"}))
        .await;
    let (status, persons) = app.get("/v1/persons", Some(&daughter)).await;
    assert_eq!(status, StatusCode::OK);
    let items = persons["items"].as_array().unwrap();
    let find = |id: &str| {
        items.iter().find(|p| p["personId"] == id).unwrap_or_else(|| panic!("{id} missing in {persons}"))
    };
    assert_eq!(find(&daughter_person)["relationship"], "self");
    let f = find(&father_person);
    assert_eq!(f["relationship"], "grantee");
    assert_eq!(f["read"], json!(["vitals", "medications"]));
    assert_eq!(f["write"], json!([]));
    assert_eq!(f["purposes"], json!(["family"]));
    assert_eq!(find(child["personId"].as_str().unwrap())["relationship"], "guardian");
    assert_eq!(items.len(), 3);
    let (status, p) = app.get(&format!("/v1/persons/{father_person}"), Some(&daughter)).await;
    assert_eq!((status, p["relationship"].as_str()), (StatusCode::OK, Some("grantee")));
}

async fn a_dependent_claims_their_record_with_their_own_account(app: TestApp) {
    let (mother, _, _) = app.user("mother@example.jp").await;
    let (_, child) = app
        .post_json(
            "/v1/persons",
            Some(&mother),
            &json!({"displayName": "鈴木 はな", "birthDate": "2008-04-01"}),
        )
        .await;
    let child_id = child["personId"].as_str().unwrap().to_owned();
    let temp = json!({"id": Uuid::new_v4(), "kind": "body_temperature", "value": 37.9, "unit": "Cel",
                      "effectiveAt": "2026-01-06T20:00:00+09:00", "source": {"method": "manual"}});
    app.post_json(
        &format!("/v1/persons/{child_id}/observations/batch"),
        Some(&mother),
        &json!({"observations": [temp]}),
    )
    .await;
    let (status, t) = app.post(&format!("/v1/persons/{child_id}/transfer"), Some(&mother)).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    // Grown up, she registers and claims her record.
    let (hana, _, placeholder) = app.user("hana@example.jp").await;
    let (status, p) = app.post_json("/v1/transfers/claim", Some(&hana), &json!({"code": t["code"]})).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!((p["personId"].as_str(), p["relationship"].as_str()), (Some(child_id.as_str()), Some("self")));
    let (_, me) = app.get("/v1/me", Some(&hana)).await;
    assert_eq!(me["personId"], child_id.as_str());
    let (status, list) = app.get(&format!("/v1/persons/{child_id}/observations"), Some(&hana)).await;
    assert_eq!(
        (status, list["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1)),
        "her history came with it"
    );
    assert_eq!(
        app.get(&format!("/v1/persons/{child_id}/observations"), Some(&mother)).await.0,
        StatusCode::NOT_FOUND,
        "guardianship ended"
    );
    assert_eq!(
        app.get(&format!("/v1/persons/{placeholder}"), Some(&hana)).await.0,
        StatusCode::NOT_FOUND,
        "the empty placeholder is gone"
    );
    let (status, _) = app.post_json("/v1/transfers/claim", Some(&hana), &json!({"code": t["code"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "single use");
}

mod review {
    use super::*;

    both_databases!(
        codes_stop_working_when_their_creator_loses_control,
        an_org_admin_cannot_make_themselves_a_nurse
    );

    async fn codes_stop_working_when_their_creator_loses_control(app: TestApp) {
        let (mother, _, _) = app.user("mother@example.jp").await;
        let (_, child) = app
            .post_json(
                "/v1/persons",
                Some(&mother),
                &json!({"displayName": "はな", "birthDate": "2008-04-01"}),
            )
            .await;
        let child_id = child["personId"].as_str().unwrap().to_owned();
        let (_, inv) = app
            .post_json(
                &format!("/v1/persons/{child_id}/invitations"),
                Some(&mother),
                &json!({"categories": ["vitals"], "access": "read", "purpose": "family"}),
            )
            .await;
        let (_, t) = app.post(&format!("/v1/persons/{child_id}/transfer"), Some(&mother)).await;
        let (hana, _, _) = app.user("hana@example.jp").await;
        let (status, _) =
            app.post_json("/v1/transfers/claim", Some(&hana), &json!({"code": t["code"]})).await;
        assert_eq!(status, StatusCode::OK);
        // The former guardian's old invitation no longer opens the record.
        let (status, body) =
            app.post_json("/v1/invitations/accept", Some(&mother), &json!({"code": inv["code"]})).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            app.get(&format!("/v1/persons/{child_id}/observations"), Some(&mother)).await.0,
            StatusCode::NOT_FOUND
        );
    }

    async fn an_org_admin_cannot_make_themselves_a_nurse(app: TestApp) {
        let admin = admin(&app).await;
        let (org, boss, boss_account) =
            org_with_member(&app, &admin, "municipality", "利根町", "boss@tone.example.jp", "admin").await;
        let (status, body) = app
            .post_json(
                &format!("/v1/orgs/{org}/members"),
                Some(&boss),
                &json!({"accountId": boss_account, "role": "nurse"}),
            )
            .await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (_, nurse_account) = {
            let u = app.user("n@tone.example.jp").await;
            (u.0, u.1)
        };
        let (status, _) = app
            .post_json(
                &format!("/v1/orgs/{org}/members"),
                Some(&boss),
                &json!({"accountId": nurse_account, "role": "nurse"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "another account is fine");
    }
}
