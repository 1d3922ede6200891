//! Offline Rekor (v1) checks: the Signed Entry Timestamp, the Merkle inclusion proof (RFC 6962)
//! and its signed checkpoint, all against the log key from the trust root.
//!
//! Why offline: a bundle already carries everything a log would answer (the entry body, its
//! integration time, an inclusion proof and a signed tree head), so asking the log again adds a
//! network dependency to admission without adding trust. The SET is what makes the integration
//! time trustworthy, and that time is what the short-lived Fulcio certificate is checked against.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::crypto::{VerifyingKey, b64};
use super::trust_root::TransparencyLog;

/// A Merkle inclusion proof as a bundle carries it.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    pub log_index: u64,
    pub tree_size: u64,
    pub root_hash: Vec<u8>,
    pub hashes: Vec<Vec<u8>>,
    /// The signed note (checkpoint) text, when present.
    pub checkpoint: Option<String>,
}

/// One transparency log entry, normalised from a bundle or cosign's legacy annotation.
#[derive(Debug, Clone)]
pub struct TlogEntry {
    pub log_index: i64,
    pub log_id: Vec<u8>,
    pub integrated_time: i64,
    /// The canonicalized entry body (decoded JSON bytes).
    pub body: Vec<u8>,
    pub signed_entry_timestamp: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
}

/// Verifies `sig` by the log's key over `msg`.
pub fn log_signature_ok(log: &TransparencyLog, msg: &[u8], sig: &[u8]) -> Result<(), String> {
    VerifyingKey::from_der(&log.public_key_der)?.verify(msg, sig)
}

/// Checks the SET: the log's signature over the canonical JSON of body, integrated time, log id
/// and index (the form Rekor signs).
pub fn verify_set(entry: &TlogEntry, log: &TransparencyLog) -> Result<(), String> {
    let set = entry
        .signed_entry_timestamp
        .as_deref()
        .ok_or("the entry has no signed entry timestamp (inclusion promise)")?;
    let body = base64::engine::general_purpose::STANDARD.encode(&entry.body);
    // Keys in lexicographic order, no whitespace: RFC 8785 for these value types.
    let canonical = format!(
        "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
        serde_json::Value::String(body),
        entry.integrated_time,
        serde_json::Value::String(hex::encode(&entry.log_id)),
        entry.log_index
    );
    log_signature_ok(log, canonical.as_bytes(), set)
        .map_err(|e| format!("signed entry timestamp does not verify with the log key: {e}"))
}

fn hash_children(l: &[u8], r: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().to_vec()
}

/// RFC 6962 leaf hash.
pub fn leaf_hash(body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().to_vec()
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or `None` if the proof has the
/// wrong shape for the index and size.
pub fn root_from_proof(index: u64, size: u64, leaf: &[u8], proof: &[Vec<u8>]) -> Option<Vec<u8>> {
    if index >= size {
        return None;
    }
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border || proof.iter().any(|h| h.len() != 32) {
        return None;
    }
    let mut h = leaf.to_vec();
    for (i, p) in proof[..inner].iter().enumerate() {
        h = if (index >> i) & 1 == 0 {
            hash_children(&h, p)
        } else {
            hash_children(p, &h)
        };
    }
    for p in &proof[inner..] {
        h = hash_children(p, &h);
    }
    Some(h)
}

/// Checks the inclusion proof against its root hash, and the checkpoint (when present) as the
/// log's signature over that root hash and tree size.
pub fn verify_inclusion(entry: &TlogEntry, log: &TransparencyLog) -> Result<(), String> {
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or("the entry has no inclusion proof")?;
    let root = root_from_proof(
        proof.log_index,
        proof.tree_size,
        &leaf_hash(&entry.body),
        &proof.hashes,
    )
    .ok_or("inclusion proof has the wrong shape for its index and tree size")?;
    if root != proof.root_hash {
        return Err("inclusion proof does not lead to the stated root hash".into());
    }
    if let Some(note) = &proof.checkpoint {
        verify_checkpoint(note, proof, log)?;
    }
    Ok(())
}

/// A checkpoint is a signed note: `origin\nsize\nbase64(root)\n[extensions]\n\n— name base64(hint4‖sig)\n`.
fn verify_checkpoint(
    note: &str,
    proof: &InclusionProof,
    log: &TransparencyLog,
) -> Result<(), String> {
    let (text, sigs) = note
        .split_once("\n\n")
        .ok_or("checkpoint is not a signed note")?;
    let mut lines = text.lines();
    let _origin = lines.next().ok_or("checkpoint has no origin line")?;
    let size: u64 = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or("checkpoint has no tree size")?;
    let root = lines
        .next()
        .and_then(b64)
        .ok_or("checkpoint has no root hash")?;
    if size != proof.tree_size || root != proof.root_hash {
        return Err("checkpoint does not match the inclusion proof's tree size and root".into());
    }
    let signed = format!("{text}\n");
    let key = VerifyingKey::from_der(&log.public_key_der)?;
    let verified = sigs
        .lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(_, b)| b64(b))
        .filter(|raw| raw.len() > 4)
        .any(|raw| key.verify(signed.as_bytes(), &raw[4..]).is_ok());
    if verified {
        Ok(())
    } else {
        Err("checkpoint is not signed by the log key".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_leaf_tree_is_its_own_root() {
        let leaf = leaf_hash(b"x");
        assert_eq!(root_from_proof(0, 1, &leaf, &[]), Some(leaf.clone()));
        assert_eq!(root_from_proof(1, 1, &leaf, &[]), None);
        assert_eq!(root_from_proof(0, 2, &leaf, &[]), None);
        let other = leaf_hash(b"y");
        assert_eq!(
            root_from_proof(1, 2, &other, std::slice::from_ref(&leaf)),
            Some(hash_children(&leaf, &other))
        );
    }

    /// Log keys of every scheme Sigstore signs with count, not only the ones ring verified
    /// before (it took neither RSA PSS nor P-521).
    #[test]
    fn log_keys_of_every_scheme_sign_sets_and_checkpoints() {
        use base64::engine::general_purpose::STANDARD;
        for scheme in super::super::crypto::SCHEMES {
            let signer = scheme.create_signer().unwrap();
            let public_key_der = signer
                .to_sigstore_keypair()
                .unwrap()
                .public_key_to_der()
                .unwrap();
            let log = TransparencyLog {
                base_url: "https://rekor.example".into(),
                key_id: Sha256::digest(&public_key_der).to_vec(),
                key_details: format!("{scheme}"),
                public_key_der,
                valid_for: super::super::trust_root::Validity {
                    start: 0,
                    end: None,
                },
            };
            let sig = signer.sign(b"set").unwrap();
            assert_eq!(log_signature_ok(&log, b"set", &sig), Ok(()), "{scheme}");
            assert_eq!(
                log_signature_ok(&log, b"other", &sig),
                Err("signature mismatch".into()),
                "{scheme}"
            );

            let root = leaf_hash(b"entry");
            let text = format!("rekor.example - 1\n1\n{}", STANDARD.encode(&root));
            let mut hinted = vec![0; 4];
            hinted.extend(signer.sign(format!("{text}\n").as_bytes()).unwrap());
            let note = format!(
                "{text}\n\n\u{2014} rekor.example {}\n",
                STANDARD.encode(&hinted)
            );
            let proof = InclusionProof {
                log_index: 0,
                tree_size: 1,
                root_hash: root,
                hashes: vec![],
                checkpoint: Some(note.clone()),
            };
            assert_eq!(verify_checkpoint(&note, &proof, &log), Ok(()), "{scheme}");
            let forged = note.replacen("rekor.example - 1", "rekor.example - 2", 1);
            assert!(
                verify_checkpoint(&forged, &proof, &log).is_err(),
                "{scheme}"
            );
        }
    }
}
