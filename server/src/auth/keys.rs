//! Access-token signing keys (Ed25519, JWS `EdDSA`) with key ids, so keys can be
//! rotated: the active key signs, every listed key verifies.
//!
//! A key is written `kid:base64url(32-byte seed)`. The embedded default keeps one
//! in `<data_dir>/signing-key` (mode 0600); production passes `PHR_SIGNING_KEY`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// PKCS#8 v1 prefix for an Ed25519 private key (RFC 8410 §7).
const PKCS8_ED25519_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    /// Account id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The sign-in session (refresh-token family) this token came from.
    pub sid: String,
    /// Set on an organization API client's token (client-credentials grant):
    /// `sub` is then the client id and the token acts for this organization only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

struct Key {
    kid: String,
    public: [u8; 32],
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct Keyring {
    active: Key,
    others: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    /// Tokens whose signature and issuer were already checked, by the SHA-256
    /// of the whole token. A phone sends the same token on every request for
    /// up to 15 minutes; an Ed25519 verification costs tens of microseconds,
    /// a lookup well under one. Expiry is still checked on every use.
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

/// Verified tokens remembered at most (about 200 bytes each).
const VERIFIED_CAPACITY: usize = 16_384;

fn parse_spec(spec: &str) -> anyhow::Result<Key> {
    let (kid, seed) = spec.trim().split_once(':').context("a signing key is written kid:base64url(seed)")?;
    anyhow::ensure!(!kid.is_empty() && kid.len() <= 64, "signing key id must be 1-64 characters");
    let seed: [u8; 32] = B64
        .decode(seed)
        .context("signing key seed is not base64url")?
        .try_into()
        .map_err(|_| anyhow::anyhow!("signing key seed must be 32 bytes"))?;
    let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    let mut der = PKCS8_ED25519_PREFIX.to_vec();
    der.extend_from_slice(&seed);
    Ok(Key {
        kid: kid.to_owned(),
        public,
        encoding: EncodingKey::from_ed_der(&der),
        decoding: DecodingKey::from_ed_der(&public),
    })
}

/// A fresh key specification with a random seed.
pub fn generate_spec() -> String {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let kid = chrono::Utc::now().format("k%Y%m%d%H%M%S").to_string();
    format!("{kid}:{}", B64.encode(seed))
}

impl Keyring {
    /// `spec` is the active key, optionally followed by `,`-separated older
    /// keys still accepted for verification during a rotation.
    pub fn from_spec(spec: &str, issuer: &str) -> anyhow::Result<Self> {
        let mut parts = spec.split(',').filter(|s| !s.trim().is_empty());
        let active = parse_spec(parts.next().context("empty signing key")?)?;
        let mut others = HashMap::new();
        for p in parts {
            let k = parse_spec(p)?;
            others.insert(k.kid, k.decoding);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            active,
            others,
            validation,
            issuer: issuer.to_owned(),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Reads `<dir>/signing-key`, creating it with a new key on first start.
    pub fn load_or_generate(dir: &Path, issuer: &str) -> anyhow::Result<Self> {
        let path = dir.join("signing-key");
        if !path.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            write_private(&path, &generate_spec())?;
            tracing::info!(path = %path.display(), "generated a new token signing key");
        }
        let spec = std::fs::read_to_string(&path)
            .with_context(|| format!("reading signing key {}", path.display()))?;
        Self::from_spec(&spec, issuer)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn sign(&self, claims: &AccessClaims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.active.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.active.encoding).context("signing token")
    }

    /// Verifies signature, issuer and expiry; `None` for any invalid token.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = chrono::Utc::now().timestamp();
        // The same expiry rule as the full check: `exp` may lie `leeway` seconds in the past.
        let fresh = |c: &AccessClaims| c.exp >= now - self.validation.leeway as i64;
        let cached = self.verified.lock().ok().and_then(|m| m.get(&digest).cloned());
        if let Some(claims) = cached {
            return fresh(&claims).then_some(claims);
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        let kid = header.kid?;
        let key = if kid == self.active.kid { &self.active.decoding } else { self.others.get(&kid)? };
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).ok()?.claims;
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= VERIFIED_CAPACITY {
                m.retain(|_, c| fresh(c));
                if m.len() >= VERIFIED_CAPACITY {
                    m.clear();
                }
            }
            m.insert(digest, claims.clone());
        }
        Some(claims)
    }

    /// The public keys as a JWK Set (RFC 7517, OKP keys per RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        let key = |kid: &str, public: &[u8]| {
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                               "kid": kid, "x": B64.encode(public)})
        };
        serde_json::json!({ "keys": [key(&self.active.kid, &self.active.public)] })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("creating {}", path.display()))
}

/// A random 32-byte secret (hex) kept in `dir/name` (created on first use,
/// readable by the owner only): the embedded default's keys live beside the
/// database file, never in it.
pub fn load_or_generate_secret(dir: &Path, name: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    if !path.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut raw = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
        write_private(&path, &crate::hash::hex(&raw))?;
        tracing::info!(path = %path.display(), "generated a new secret");
    }
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            iss: "phr".into(),
            sub: "a".into(),
            iat: now,
            exp: now + exp_in,
            sid: "s".into(),
            org: None,
        }
    }

    #[test]
    fn signs_and_verifies_and_rejects_tampering() {
        let ring = Keyring::from_spec(&generate_spec(), "phr").unwrap();
        let token = ring.sign(&claims(60)).unwrap();
        assert_eq!(ring.verify(&token).unwrap().sub, "a");
        let mut bad = token.clone();
        bad.pop();
        assert!(ring.verify(&bad).is_none());
        assert!(ring.verify(&ring.sign(&claims(-120)).unwrap()).is_none(), "expired");
        let other = Keyring::from_spec(&generate_spec(), "phr").unwrap();
        assert!(other.verify(&token).is_none(), "unknown key id");
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_changed_one_is_checked_again() {
        let ring = Keyring::from_spec(&generate_spec(), "phr").unwrap();
        let token = ring.sign(&claims(60)).unwrap();
        assert!(ring.verify(&token).is_some());
        assert_eq!(ring.verified.lock().unwrap().len(), 1, "remembered after one check");
        assert_eq!(ring.verify(&token).unwrap().sub, "a", "answered from memory");
        // Expiry passes while remembered: refused like any expired token.
        for c in ring.verified.lock().unwrap().values_mut() {
            c.exp -= 60 + 31;
        }
        assert!(ring.verify(&token).is_none(), "expired while remembered");
        // Any other bytes are a different token, checked in full.
        let mut forged = token.clone();
        forged.insert(token.rfind('.').unwrap() + 1, 'A');
        assert!(ring.verify(&forged).is_none());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let old = generate_spec();
        let token = Keyring::from_spec(&old, "phr").unwrap().sign(&claims(60)).unwrap();
        let new = format!("{}x:{}", &old[..3], generate_spec().split_once(':').unwrap().1);
        let rotated = Keyring::from_spec(&format!("{new},{old}"), "phr").unwrap();
        assert!(rotated.verify(&token).is_some());
    }

    #[test]
    fn wrong_issuer_is_refused() {
        let spec = generate_spec();
        let mut c = claims(60);
        c.iss = "other".into();
        let token = Keyring::from_spec(&spec, "other").unwrap().sign(&c).unwrap();
        assert!(Keyring::from_spec(&spec, "phr").unwrap().verify(&token).is_none());
    }
}
