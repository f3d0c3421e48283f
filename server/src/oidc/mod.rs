//! External sign-in with OpenID Connect providers: the authorization-code flow
//! with PKCE, state and nonce kept server-side (single use, 10 minutes), ID
//! token validation against the provider's JWKS, and linking the provider's
//! subject to an account. Ends in this service's own token pair.

pub mod http;
pub mod provider;
pub mod service;
pub mod store;

use anyhow::{bail, ensure};
use serde::Deserialize;

/// One configured provider (`PHR_OIDC_PROVIDERS` entry).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderConfig {
    /// The `{provider}` path segment: lower-case letters, digits, `-` and `_`.
    pub name: String,
    /// Exactly as the provider's discovery document states it.
    pub issuer: String,
    #[serde(alias = "client_id")]
    pub client_id: String,
    #[serde(alias = "client_secret")]
    pub client_secret: String,
    /// Requested scopes; `openid` is added when missing.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Where the provider may send the browser back: exact matches only.
    #[serde(alias = "redirect_uris")]
    pub redirect_uris: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

// The client secret stays out of logs and panics.
impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

impl ProviderConfig {
    /// Start-up checks: a typo here should stop the server, not a sign-in.
    pub fn check_all(all: &[ProviderConfig]) -> anyhow::Result<()> {
        let mut names = std::collections::HashSet::new();
        for p in all {
            p.check()?;
            ensure!(names.insert(p.name.as_str()), "provider {:?} is configured twice", p.name);
        }
        Ok(())
    }

    fn check(&self) -> anyhow::Result<()> {
        let n = &self.name;
        ensure!(
            !n.is_empty()
                && n.len() <= 64
                && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
            "provider name {n:?}: use 1-64 lower-case letters, digits, - or _"
        );
        let issuer = reqwest::Url::parse(&self.issuer).map_err(|e| anyhow::anyhow!("{n}: issuer: {e}"))?;
        // Plain http only for a provider on this machine (development and the tests).
        let loopback = matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match issuer.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => bail!("{n}: issuer must be https, not {other}"),
        }
        ensure!(!self.client_id.is_empty(), "{n}: clientId is empty");
        ensure!(!self.redirect_uris.is_empty(), "{n}: list at least one redirect URI");
        for uri in &self.redirect_uris {
            reqwest::Url::parse(uri).map_err(|e| anyhow::anyhow!("{n}: redirect URI {uri:?}: {e}"))?;
        }
        Ok(())
    }

    /// The scopes to request, `openid` first.
    pub fn scopes(&self) -> Vec<String> {
        let mut s = vec!["openid".to_owned()];
        s.extend(self.scopes.iter().filter(|x| x.as_str() != "openid").cloned());
        s
    }
}
