//! Argon2id password hashing (PHC strings), with a dummy verification for
//! unknown accounts so sign-in time does not reveal which emails exist.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password made at start-up with the same parameters.
    dummy: String,
}

impl Hasher {
    pub fn new(memory_kib: u32) -> anyhow::Result<Self> {
        // OWASP's minimum for Argon2id: m=19 MiB, t=2, p=1.
        let params = Params::new(memory_kib.max(8), 2, 1, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let mut me = Self { params, dummy: String::new() };
        me.dummy = me.hash(&uuid::Uuid::new_v4().to_string())?;
        Ok(me)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    }

    /// Verifies against `stored`, or burns the same time on the dummy hash.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let target = stored.unwrap_or(&self.dummy);
        let ok = PasswordHash::new(target)
            .map(|parsed| self.argon2().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && stored.is_some()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let h = Hasher::new(1024).unwrap();
        let stored = h.hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify("correct horse battery", Some(&stored)));
        assert!(!h.verify("correct horse batterY", Some(&stored)));
        assert!(!h.verify("anything", None));
    }
}
