//! SHA-256 in lower-case hex: refresh tokens, invitation codes, content
//! fingerprints and the access-log chain all store digests this way.

use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex(&Sha256::digest(data.as_ref()))
}

/// SHA-256 of fields each followed by a unit separator (0x1F), so that
/// ("ab", "c") and ("a", "bc") differ.
pub fn sha256_fields<I, T>(fields: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.as_ref());
        h.update([0x1f]);
    }
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digest() {
        assert_eq!(
            super::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(super::sha256_fields(["ab", "c"]), super::sha256_fields(["a", "bc"]));
    }
}
