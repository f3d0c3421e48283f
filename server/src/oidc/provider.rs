//! Talking to a provider: discovery (fetched on first use and cached), the JWK
//! set (cached, fetched again when an ID token names an unknown `kid`), the
//! authorization URL, the code exchange through the `oauth2` crate, and ID
//! token validation. No database here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use super::ProviderConfig;
use crate::error::{ApiError, ErrorCode, FieldError};

/// Clock skew allowed on `exp`, seconds.
const LEEWAY_SECS: u64 = 60;
/// A token naming an unknown key refetches the JWK set at most this often.
const JWKS_REFETCH_EVERY: Duration = Duration::from_secs(30);
/// Signature algorithms an ID token may use: asymmetric only, so that the
/// client secret can never be turned into a signing key (alg confusion).
const ALLOWED_ALGS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The fields of the discovery document (OpenID Connect Discovery 1.0 §3) used here.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// The token endpoint's answer with the OpenID Connect `id_token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// An `oauth2` client with the authorization and token endpoints set.
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The claims of a validated ID token that sign-in uses.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    nonce: Option<String>,
    email: Option<String>,
    /// A boolean, though some providers send the string `"true"`.
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    name: Option<String>,
}

struct Jwks {
    set: JwkSet,
    fetched: Instant,
}

pub struct Provider {
    pub config: ProviderConfig,
    discovery: RwLock<Option<Arc<Discovery>>>,
    jwks: RwLock<Option<Jwks>>,
}

/// The configured providers and the HTTP client that reaches them.
pub struct Providers {
    http: reqwest::Client,
    by_name: HashMap<String, Provider>,
}

impl Providers {
    pub fn new(configs: &[ProviderConfig]) -> anyhow::Result<Self> {
        // The oauth2 crate's advice: a client that follows no redirects, so a
        // token request cannot be bounced to another host (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        let by_name = configs
            .iter()
            .map(|c| {
                let p = Provider { config: c.clone(), discovery: RwLock::new(None), jwks: RwLock::new(None) };
                (c.name.clone(), p)
            })
            .collect();
        Ok(Self { http, by_name })
    }

    pub fn get(&self, name: &str) -> Result<&Provider, ApiError> {
        self.by_name.get(name).ok_or_else(|| ApiError::not_found("identity provider"))
    }

    /// The discovery document, fetched once and then served from memory.
    pub async fn discovery(&self, p: &Provider) -> Result<Arc<Discovery>, ApiError> {
        if let Some(d) = p.discovery.read().await.clone() {
            return Ok(d);
        }
        let mut slot = p.discovery.write().await;
        if let Some(d) = slot.clone() {
            return Ok(d);
        }
        let url = format!("{}/.well-known/openid-configuration", p.config.issuer.trim_end_matches('/'));
        let d: Discovery = self.fetch_json(&p.config.name, &url).await?;
        // Discovery §4.3: the document must name the issuer it was fetched for.
        if d.issuer != p.config.issuer {
            return Err(unavailable(&p.config.name, format!("discovery names issuer {:?}", d.issuer)));
        }
        let d = Arc::new(d);
        *slot = Some(d.clone());
        Ok(d)
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(
        &self,
        provider: &str,
        url: &str,
    ) -> Result<T, ApiError> {
        let res = self.http.get(url).send().await.map_err(|e| unavailable(provider, e))?;
        if !res.status().is_success() {
            return Err(unavailable(provider, format!("{url}: HTTP {}", res.status())));
        }
        res.json().await.map_err(|e| unavailable(provider, format!("{url}: {e}")))
    }

    fn client(&self, p: &Provider, d: &Discovery, redirect_uri: &str) -> Result<OAuthClient, ApiError> {
        let name = &p.config.name;
        Ok(oauth2::Client::new(ClientId::new(p.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(p.config.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(d.authorization_endpoint.clone()).map_err(|e| unavailable(name, e))?)
            .set_token_uri(TokenUrl::new(d.token_endpoint.clone()).map_err(|e| unavailable(name, e))?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| unavailable(name, e))?))
    }

    /// The provider's authorization URL for `state` and `nonce`, with the
    /// PKCE S256 challenge of `pkce_verifier`.
    pub async fn authorization_request(
        &self,
        p: &Provider,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<String, ApiError> {
        let d = self.discovery(p).await?;
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let (url, _) = self
            .client(p, &d, redirect_uri)?
            .authorize_url(|| CsrfToken::new(state.to_owned()))
            .add_scopes(p.config.scopes().into_iter().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce)
            .url();
        Ok(url.to_string())
    }

    /// Exchanges the code (RFC 6749 §4.1.3 with the PKCE verifier) and returns the raw ID token.
    pub async fn exchange(
        &self,
        p: &Provider,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<String, ApiError> {
        let d = self.discovery(p).await?;
        let name = &p.config.name;
        let res = self
            .client(p, &d, redirect_uri)?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await;
        match res {
            Ok(t) => t.extra_fields().id_token.clone().ok_or_else(|| {
                id_token_invalid("id_token", "the token response has no `id_token`; is `openid` a scope?")
            }),
            Err(RequestTokenError::ServerResponse(e)) => {
                tracing::info!(provider = %name, error = %e.error(), "provider refused the authorization code");
                Err(ApiError::new(
                    ErrorCode::OidcExchangeFailed,
                    format!("The identity provider refused the authorization code ({}).", e.error()),
                ))
            }
            Err(e) => Err(unavailable(name, e)),
        }
    }

    /// Validates an ID token (OpenID Connect Core §3.1.3.7): signature by a key
    /// of the provider's JWK set, `iss`, `aud` = our client id, `exp` (with
    /// leeway) and `nonce` equal to the one sent with this authorization request.
    pub async fn validate_id_token(
        &self,
        p: &Provider,
        token: &str,
        nonce: &str,
    ) -> Result<Identity, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| id_token_invalid("id_token", "not a signed JWT"))?;
        if !ALLOWED_ALGS.contains(&header.alg) {
            return Err(id_token_invalid("alg", format!("{:?} is not an accepted algorithm", header.alg)));
        }
        let key = self.key_for(p, header.kid.as_deref()).await?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&p.config.issuer]);
        v.set_audience(&[&p.config.client_id]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<IdClaims>(token, &key, &v).map_err(|e| {
            let (claim, why) = match e.kind() {
                ErrorKind::InvalidSignature => ("signature", "the signature does not verify".to_owned()),
                ErrorKind::ExpiredSignature => ("exp", "the ID token has expired".to_owned()),
                ErrorKind::ImmatureSignature => ("nbf", "the ID token is not valid yet".to_owned()),
                ErrorKind::InvalidIssuer => ("iss", "the issuer is not the configured one".to_owned()),
                ErrorKind::InvalidAudience => {
                    ("aud", "the audience is not this service's client id".to_owned())
                }
                ErrorKind::MissingRequiredClaim(c) => ("claims", format!("the claim `{c}` is missing")),
                ErrorKind::InvalidAlgorithm => ("alg", "the algorithm does not fit the key".to_owned()),
                _ => ("id_token", "the ID token could not be read".to_owned()),
            };
            id_token_invalid(claim, why)
        })?;
        let c = data.claims;
        if c.nonce.as_deref() != Some(nonce) {
            return Err(id_token_invalid("nonce", "the nonce is not the one sent with this sign-in"));
        }
        let email_verified = matches!(&c.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(&c.email_verified, Some(serde_json::Value::String(s)) if s == "true");
        Ok(Identity { subject: c.sub, email: c.email, email_verified, name: c.name })
    }

    /// The verification key for `kid`; an unknown `kid` refetches the set
    /// (the provider rotated its keys), at most every [`JWKS_REFETCH_EVERY`].
    async fn key_for(&self, p: &Provider, kid: Option<&str>) -> Result<DecodingKey, ApiError> {
        let name = &p.config.name;
        let pick = |set: &JwkSet| -> Option<Result<DecodingKey, ApiError>> {
            let jwk = match kid {
                Some(k) => set.find(k)?,
                // Without a kid only a one-key set is unambiguous.
                None if set.keys.len() == 1 => &set.keys[0],
                None => return None,
            };
            Some(DecodingKey::from_jwk(jwk).map_err(|e| unavailable(name, format!("JWK: {e}"))))
        };
        if let Some(j) = p.jwks.read().await.as_ref()
            && let Some(k) = pick(&j.set)
        {
            return k;
        }
        let mut slot = p.jwks.write().await;
        let recent = slot.as_ref().is_some_and(|j| j.fetched.elapsed() < JWKS_REFETCH_EVERY);
        if !recent {
            let d = self.discovery(p).await?;
            let set: JwkSet = self.fetch_json(name, &d.jwks_uri).await?;
            *slot = Some(Jwks { set, fetched: Instant::now() });
        }
        slot.as_ref()
            .and_then(|j| pick(&j.set))
            .unwrap_or_else(|| Err(id_token_invalid("kid", "no key of the provider has this `kid`")))
    }
}

/// 401 `oidc_id_token_invalid`, naming the failed check as `id_token/<claim>`.
fn id_token_invalid(claim: &str, why: impl Into<String>) -> ApiError {
    let why = why.into();
    ApiError::Problem {
        code: ErrorCode::OidcIdTokenInvalid,
        detail: format!("The ID token failed the `{claim}` check: {why}."),
        errors: vec![FieldError::new(format!("id_token/{claim}"), why)],
    }
}

/// 502: the cause goes to the log, not to the client.
fn unavailable(provider: &str, cause: impl std::fmt::Display) -> ApiError {
    tracing::warn!(provider, error = %cause, "identity provider unavailable");
    ApiError::new(
        ErrorCode::OidcProviderUnavailable,
        "The identity provider could not be reached or gave an unreadable answer.",
    )
}
