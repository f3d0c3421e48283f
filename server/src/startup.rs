//! Building and running the application: `Application::build(settings)` binds
//! (port 0 picks a free one, which the tests use) and `run_until_stopped()` serves.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, Service, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpMessage, HttpServer, web};
use anyhow::Context;
use sea_orm::DatabaseConnection;
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::Keyring;
use crate::auth::password::Hasher;
use crate::config::Settings;
use crate::{console, db, http, openapi};

/// What every handler can reach.
pub struct AppState {
    pub db: DatabaseConnection,
    pub keys: Keyring,
    pub hasher: Hasher,
    pub settings: Settings,
    /// Wakes long-polling sync pulls when a record changes.
    pub changes: crate::sync::ChangeBus,
    /// PostgreSQL: carries `changes` to and from the other instances; started by the application.
    pub change_relay: Option<crate::sync::bus::Relay>,
    /// The FCM client, when push is configured.
    pub push: Option<Arc<crate::notify::fcm::FcmSender>>,
    /// Rate limits and password lock-outs (this instance).
    pub limits: crate::http::limits::Limits,
    /// Key of the keyed hash IC-card UIDs are stored as (never in the database).
    pub card_key: String,
    /// The configured OpenID Connect providers, their discovery and keys cached.
    pub oidc: crate::oidc::provider::Providers,
}

impl AppState {
    /// Connects, migrates if configured, and loads or creates the signing key.
    pub async fn init(settings: Settings) -> anyhow::Result<Self> {
        let db = db::connect(&settings.database_url, settings.db_max_connections).await?;
        if settings.migrate_on_start {
            db::migrate_up(&db).await?;
        }
        let keys = match &settings.signing_key {
            Some(spec) => Keyring::from_spec(spec, &settings.issuer).context("PHR_SIGNING_KEY")?,
            None if settings.is_sqlite() => Keyring::load_or_generate(&settings.data_dir, &settings.issuer)?,
            None => anyhow::bail!(
                "PHR_SIGNING_KEY is required with PostgreSQL so that every instance signs alike; \
                 create one with `phr keygen`"
            ),
        };
        let card_key = match &settings.card_key {
            Some(k) => k.clone(),
            None if settings.is_sqlite() => {
                crate::auth::keys::load_or_generate_secret(&settings.data_dir, "card-key")?
            }
            None => anyhow::bail!(
                "PHR_CARD_KEY is required with PostgreSQL so that every instance hashes card UIDs alike \
                 and the key is not kept beside the hashes; create one with `openssl rand -hex 32`"
            ),
        };
        let hasher = Hasher::new(settings.argon2_memory_kib)?;
        let push = match &settings.fcm {
            Some(c) => {
                Some(Arc::new(crate::notify::fcm::FcmSender::from_config(c).context("PHR_FCM_CREDENTIALS")?))
            }
            None => None,
        };
        let oidc = crate::oidc::provider::Providers::new(&settings.oidc_providers)?;
        let (changes, change_relay) = if settings.is_sqlite() {
            // One process per SQLite file: nobody else to tell.
            (crate::sync::ChangeBus::default(), None)
        } else {
            let (bus, relay) = crate::sync::ChangeBus::relayed();
            (bus, Some(relay))
        };
        Ok(Self {
            oidc,
            db,
            keys,
            hasher,
            settings,
            changes,
            change_relay,
            push,
            limits: Default::default(),
            card_key,
        })
    }
}

pub struct Application {
    port: u16,
    server: Server,
    /// Database and retention (days) for the hourly tombstone pruning.
    pruner: (DatabaseConnection, i64),
    /// The push-outbox worker and its polling interval, unless switched off.
    push: Option<(crate::notify::worker::Worker, std::time::Duration)>,
    /// Change notifications to and from other instances (PostgreSQL), with the database URL it listens on.
    relay: Option<(crate::sync::bus::Relay, DatabaseConnection, String)>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let state = AppState::init(settings).await?;
        Self::with_state(state)
    }

    pub fn with_state(mut state: AppState) -> anyhow::Result<Self> {
        let relay =
            state.change_relay.take().map(|r| (r, state.db.clone(), state.settings.database_url.clone()));
        let listener = TcpListener::bind(&state.settings.bind)
            .with_context(|| format!("binding {}", state.settings.bind))?;
        let port = listener.local_addr()?.port();
        let shutdown = state.settings.shutdown_timeout;
        let workers = state.settings.workers;
        let state = web::Data::from(Arc::new(state));
        let pruner = (state.db.clone(), state.settings.tombstone_retention_days);
        let push = state.settings.push_worker.then(|| {
            (
                crate::notify::worker::Worker::new(
                    state.db.clone(),
                    state.push.clone(),
                    state.settings.push_max_attempts,
                ),
                std::time::Duration::from_millis(state.settings.push_poll_ms.max(10)),
            )
        });
        let spec = openapi::spec();
        let routes = web::Data::new(http::routes::RouteTable::from_spec(&spec));
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new().into_utoipa_app().configure(openapi::routes).split_for_parts();
            app.app_data(state.clone())
                .app_data(routes.clone())
                .app_data(web::PathConfig::default().error_handler(http::path_error))
                .app_data(web::QueryConfig::default().error_handler(http::query_error))
                .app_data(web::PayloadConfig::new(state.settings.max_body_bytes))
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
                .service(web::redirect("/docs", "/docs/"))
                .configure(console::configure)
                .default_service(web::to(http::routes::fallback))
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "no-referrer"))
                        // Health data must not sit in shared or browser caches.
                        .add(("Cache-Control", "no-store"))
                        .add(("X-Frame-Options", "DENY")),
                )
                .wrap(cors(&state.settings.cors_origins))
                .wrap_fn(|req, srv| {
                    let id = req.extensions().get::<RequestId>().copied();
                    let fut = srv.call(req);
                    async move {
                        let mut res: ServiceResponse<_> = fut.await?;
                        if let Some(id) = id
                            && let Ok(v) = HeaderValue::from_str(&id.to_string())
                        {
                            res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
                        }
                        // API answers are data, never a page to render (the Swagger UI under /docs is).
                        if res.request().path().starts_with("/v1/") {
                            res.headers_mut().insert(
                                HeaderName::from_static("content-security-policy"),
                                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
                            );
                        }
                        Ok::<_, actix_web::Error>(res.map_body(|_, b| b.boxed()))
                    }
                })
                .wrap(TracingLogger::<crate::telemetry::PrivateRootSpan>::new())
        })
        .listen(listener)?
        .shutdown_timeout(shutdown);
        if let Some(n) = workers {
            server = server.workers(n);
        }
        Ok(Self { port, server: server.run(), pruner, push, relay })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully when called (tests; signals are handled by actix).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get `shutdown_timeout` to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (db, days) = self.pruner;
        let pruning = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tick.tick().await;
                // An hour between raising a floor and deleting what it covers: far
                // longer than a pull (see `prune_tombstones`).
                let grace = chrono::Duration::hours(1);
                match crate::sync::feed::prune_tombstones(&db, chrono::Duration::days(days), grace).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "pruned old tombstones"),
                    Err(e) => tracing::warn!(error = %e, "tombstone pruning failed"),
                }
            }
        });
        let pushing = self.push.map(|(w, every)| tokio::spawn(w.run(every)));
        let relaying = self.relay.map(|(r, db, url)| tokio::spawn(r.run(db, url)));
        let served = self.server.await;
        pruning.abort();
        if let Some(r) = relaying {
            r.abort();
        }
        if let Some(p) = pushing {
            p.abort();
        }
        served
    }
}

/// Cross-origin access for the web origins an operator allows (`PHR_CORS_ORIGINS`);
/// none by default. Bearer tokens, not cookies: no credentials mode.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut c = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::ACCEPT,
        ])
        .expose_headers(["Retry-After", "X-Request-Id"])
        .max_age(600);
    for o in origins {
        c = c.allowed_origin(o);
    }
    c
}
