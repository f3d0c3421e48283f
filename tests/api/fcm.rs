//! The FCM HTTP v1 sender against the local stand-in: OAuth grant and token
//! caching, the JSON FCM accepts, and how each FCM answer is classified.
//! No database: these go straight from `FcmSender` to the stand-in over HTTP.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use phr::notify::fcm::{FcmError, FcmSender, Notice, PushKind, PushMessage, SendError};
use phr_tests::StatusCode;
use phr_tests::fcm::{
    CLIENT_EMAIL, Failure, FcmStandIn, KEY_ID, OTHER_TEST_KEY_PEM, PROJECT_ID, TEST_KEY_PEM,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};

struct Setup {
    fcm: FcmStandIn,
    sender: FcmSender,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let fcm = FcmStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sender = FcmSender::from_config(&fcm.config(dir.path())).unwrap();
    Setup { fcm, sender, _dir: dir }
}

fn poke(token: &str) -> PushMessage {
    PushMessage::new(token, PushKind::SyncPoke)
        .with_data("event", "sync")
        .with_data("personId", "0190a5a4-0000-7000-8000-000000000001")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_token_is_fetched_once_and_reused_across_sends() {
    let Setup { fcm, sender, .. } = setup().await;
    let first = sender.send(&poke("device-a")).await.unwrap();
    let second = sender.send(&poke("device-b")).await.unwrap();
    assert!(first.name.starts_with(&format!("projects/{PROJECT_ID}/messages/")), "{}", first.name);
    assert_ne!(first.name, second.name);
    assert_eq!(fcm.token_requests(), 1);
    assert_eq!(fcm.unauthorized_responses(), 0);
    let delivered = fcm.messages();
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        delivered[0],
        json!({
            "token": "device-a",
            "data": {"event": "sync", "personId": "0190a5a4-0000-7000-8000-000000000001"},
            "android": {"priority": "NORMAL", "collapseKey": "sync"},
            "apns": {
                "headers": {"apns-collapse-id": "sync", "apns-priority": "5", "apns-push-type": "background"},
                "payload": {"aps": {"content-available": 1}}
            }
        })
    );
    assert_eq!(fcm.messages_to("device-b").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_access_token_is_replaced_before_sending() {
    let Setup { fcm, sender, .. } = setup().await;
    fcm.set_token_lifetime(1);
    sender.send(&poke("device-a")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sender.send(&poke("device-a")).await.unwrap();
    assert_eq!(fcm.token_requests(), 2);
    // Replaced ahead of time, not after FCM refused the stale one.
    assert_eq!(fcm.unauthorized_responses(), 0);
    assert_eq!(fcm.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_access_token_is_replaced_once_and_the_send_retried() {
    let Setup { fcm, sender, .. } = setup().await;
    sender.send(&poke("device-a")).await.unwrap();
    fcm.revoke_access_tokens();
    sender.send(&poke("device-a")).await.unwrap();
    assert_eq!(fcm.token_requests(), 2);
    assert_eq!(fcm.unauthorized_responses(), 1);
    assert_eq!(fcm.send_attempts(), 3);
    assert_eq!(fcm.messages().len(), 2);
    // The new token is cached in turn.
    sender.send(&poke("device-a")).await.unwrap();
    assert_eq!(fcm.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_apns_credentials_are_an_auth_error_without_a_new_token() {
    let Setup { fcm, sender, .. } = setup().await;
    fcm.fail_next("iphone", Failure::ThirdPartyAuth);
    let error = sender.send(&poke("iphone")).await.unwrap_err();
    let SendError::Auth { reason } = error else { panic!("{error:?}") };
    assert!(reason.contains("THIRD_PARTY_AUTH_ERROR"), "{reason}");
    assert_eq!(fcm.token_requests(), 1);
    assert_eq!(fcm.send_attempts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_and_malformed_tokens_are_reported_for_deletion() {
    let Setup { fcm, sender, .. } = setup().await;
    fcm.fail_always("uninstalled", Failure::Unregistered);
    fcm.fail_always("garbled", Failure::InvalidToken);
    assert_eq!(sender.send(&poke("uninstalled")).await, Err(SendError::Unregistered));
    assert_eq!(sender.send(&poke("uninstalled")).await, Err(SendError::Unregistered));
    assert_eq!(sender.send(&poke("garbled")).await, Err(SendError::Unregistered));
    assert!(fcm.messages().is_empty());
    sender.send(&poke("installed")).await.unwrap();
    assert_eq!(fcm.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_surfaces_retry_after_and_the_retry_goes_through() {
    let Setup { fcm, sender, .. } = setup().await;
    fcm.fail_next("busy", Failure::QuotaExceeded { retry_after: Some("30".into()) });
    let error = sender.send(&poke("busy")).await.unwrap_err();
    let SendError::Retryable { retry_after, reason } = error else { panic!("{error:?}") };
    assert_eq!(retry_after, Some(Duration::from_secs(30)));
    assert!(reason.contains("429") && reason.contains("QUOTA_EXCEEDED"), "{reason}");
    sender.send(&poke("busy")).await.unwrap();
    assert_eq!(fcm.messages_to("busy").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_are_retryable_with_an_http_date_retry_after() {
    let Setup { fcm, sender, .. } = setup().await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(120);
    let http_date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    fcm.fail_next("t", Failure::Unavailable { retry_after: Some(http_date) });
    fcm.fail_next("t", Failure::Internal);
    let error = sender.send(&poke("t")).await.unwrap_err();
    let SendError::Retryable { retry_after: Some(wait), .. } = error else { panic!("{error:?}") };
    assert!(wait > Duration::from_secs(110) && wait <= Duration::from_secs(120), "{wait:?}");
    let error = sender.send(&poke("t")).await.unwrap_err();
    assert!(matches!(error, SendError::Retryable { retry_after: None, .. }), "{error:?}");
    sender.send(&poke("t")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_fcm_is_retryable() {
    let fcm = FcmStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut config = fcm.config(dir.path());
    config.endpoint = endpoint;
    let sender = FcmSender::from_config(&config).unwrap();
    let error = sender.send(&poke("t")).await.unwrap_err();
    assert!(matches!(error, SendError::Retryable { retry_after: None, .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_to_another_project_is_permanent() {
    let fcm = FcmStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fcm.config(dir.path());
    config.project_id_override = Some("someone-elses-project".into());
    let sender = FcmSender::from_config(&config).unwrap();
    assert_eq!(sender.project_id(), "someone-elses-project");
    let error = sender.send(&poke("t")).await.unwrap_err();
    let SendError::Permanent { reason } = error else { panic!("{error:?}") };
    assert!(reason.contains("403 PERMISSION_DENIED"), "{reason}");
    assert!(fcm.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_id_mismatch_is_permanent() {
    let Setup { fcm, sender, .. } = setup().await;
    fcm.fail_next("other-app", Failure::SenderIdMismatch);
    let error = sender.send(&poke("other-app")).await.unwrap_err();
    assert!(matches!(&error, SendError::Permanent { reason } if reason.contains("SENDER_ID_MISMATCH")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_signed_with_a_different_private_key_is_an_auth_error() {
    let fcm = FcmStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fcm.config(dir.path());
    config.credentials_path =
        fcm.write_service_account_with(dir.path(), |key| key["private_key"] = json!(OTHER_TEST_KEY_PEM));
    let sender = FcmSender::from_config(&config).unwrap();
    let error = sender.send(&poke("t")).await.unwrap_err();
    let SendError::Auth { reason } = error else { panic!("{error:?}") };
    assert!(reason.contains("invalid_grant") && reason.contains("Invalid JWT Signature"), "{reason}");
    assert_eq!(fcm.token_requests(), 1);
    assert_eq!(fcm.send_attempts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_id_comes_from_the_key_unless_overridden() {
    let fcm = FcmStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fcm.config(dir.path());
    assert_eq!(FcmSender::from_config(&config).unwrap().project_id(), PROJECT_ID);
    // Rewrites the same file without `project_id`.
    fcm.write_service_account_with(dir.path(), |key| {
        key.as_object_mut().unwrap().remove("project_id");
    });
    let error = FcmSender::from_config(&config).unwrap_err();
    assert!(matches!(error, FcmError::MissingField { field: "project_id", .. }), "{error:?}");
    config.project_id_override = Some(PROJECT_ID.into());
    let sender = FcmSender::from_config(&config).unwrap();
    sender.send(&poke("t")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_only_checks_the_message_without_delivering_it() {
    let Setup { fcm, sender, .. } = setup().await;
    let checked = sender.validate(&poke("t")).await.unwrap();
    assert_eq!(checked.name, format!("projects/{PROJECT_ID}/messages/fake_message_id"));
    assert!(fcm.messages().is_empty());
    assert_eq!(fcm.validated().len(), 1);
    fcm.fail_next("dead", Failure::Unregistered);
    assert_eq!(sender.validate(&poke("dead")).await, Err(SendError::Unregistered));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_kind_is_accepted_as_fcm_json() {
    let Setup { fcm, sender, .. } = setup().await;
    let notice = Notice::new("PHR", "New information in your record");
    let alert =
        PushMessage::new("t", PushKind::Alert(notice.clone().localized("changed_title", "changed_body")))
            .with_data("event", "record_changed")
            .with_ttl(Duration::from_secs(86_400));
    let emergency = PushMessage::new("t", PushKind::Emergency(notice));
    sender.send(&alert).await.unwrap();
    sender.send(&emergency).await.unwrap();
    let delivered = fcm.messages();
    assert_eq!(
        delivered[0]["notification"],
        json!({"title": "PHR", "body": "New information in your record"})
    );
    assert_eq!(
        delivered[0]["android"],
        json!({"priority": "HIGH", "ttl": "86400s",
               "notification": {"titleLocKey": "changed_title", "bodyLocKey": "changed_body"}})
    );
    assert_eq!(delivered[1]["apns"]["payload"]["aps"]["interruption-level"], "time-sensitive");
    assert_eq!(delivered[1]["apns"]["headers"]["apns-priority"], "10");
}

// The stand-in itself: it must refuse what Google refuses, or the tests above prove little.

fn assertion(pem: &str, claims: Value) -> String {
    let der = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap().to_pkcs1_der().unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
}

fn claims(fcm: &FcmStandIn) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": CLIENT_EMAIL, "scope": "https://www.googleapis.com/auth/firebase.messaging",
           "aud": fcm.token_uri(), "iat": now, "exp": now + 3600})
}

async fn grant(fcm: &FcmStandIn, grant_type: &str, assertion: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(fcm.token_uri())
        .form(&[("grant_type", grant_type), ("assertion", assertion)])
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stand_in_token_endpoint_checks_the_assertion_like_google() {
    let fcm = FcmStandIn::start().await;
    let (status, body) = grant(&fcm, JWT_BEARER, &assertion(TEST_KEY_PEM, claims(&fcm))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().starts_with("ya29."));

    let (status, body) = grant(&fcm, "client_credentials", "x").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));

    let mut wrong_scope = claims(&fcm);
    wrong_scope["scope"] = json!("https://www.googleapis.com/auth/cloud-platform.read-only");
    let (status, body) = grant(&fcm, JWT_BEARER, &assertion(TEST_KEY_PEM, wrong_scope)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));

    let mut too_long = claims(&fcm);
    too_long["exp"] = json!(too_long["iat"].as_i64().unwrap() + 7200);
    let (_, body) = grant(&fcm, JWT_BEARER, &assertion(TEST_KEY_PEM, too_long)).await;
    assert_eq!(body["error"], "invalid_grant");

    let mut wrong_audience = claims(&fcm);
    wrong_audience["aud"] = json!("https://oauth2.googleapis.com/token");
    let (_, body) = grant(&fcm, JWT_BEARER, &assertion(TEST_KEY_PEM, wrong_audience)).await;
    assert_eq!(body["error"], "invalid_grant");

    let (_, body) = grant(&fcm, JWT_BEARER, &assertion(OTHER_TEST_KEY_PEM, claims(&fcm))).await;
    assert_eq!(body, json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}));
    assert_eq!(fcm.token_requests(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stand_in_refuses_messages_fcm_would_refuse() {
    let fcm = FcmStandIn::start().await;
    let (_, granted) = grant(&fcm, JWT_BEARER, &assertion(TEST_KEY_PEM, claims(&fcm))).await;
    let access = granted["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}/v1/projects/{PROJECT_ID}/messages:send", fcm.endpoint());
    let post = |body: Value, bearer: Option<String>| {
        let mut req = reqwest::Client::new().post(&url).json(&body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };

    let (status, body) = post(json!({"message": {"token": "t"}}), None).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED"))
    );

    let (status, body) =
        post(json!({"message": {"token": "t", "data": {"n": 12}}}), Some(access.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "Invalid value at 'message.data[0].value' (TYPE_STRING), 12");
    assert_eq!(body["error"]["details"][0]["fieldViolations"][0]["field"], "message.data[0].value");

    let (status, body) =
        post(json!({"message": {"token": "t", "topic": "news"}}), Some(access.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = post(json!({"message": {"data": {"a": "b"}}}), Some(access.clone())).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Recipient of the message is not set."))
    );

    let (status, body) =
        post(json!({"message": {"token": "t", "android": {"colapse_key": "x"}}}), Some(access.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("Unknown name \"colapse_key\""), "{body}");

    let (status, _) =
        post(json!({"message": {"token": "t", "android": {"ttl": "1 hour"}}}), Some(access.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Either spelling of a field is FCM's: the proto name or its JSON (camelCase) name.
    let (status, body) = post(
        json!({"validate_only": false, "message": {"token": "t", "android": {"collapse_key": "x", "priority": "high"}}}),
        Some(access),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(fcm.messages().len(), 1);
}
