//! What auditors get: the list of anchors (`anchors [--json]`) and, with
//! `anchors --export DIR`, one folder per anchor with the TSA's whole reply,
//! the data it covers and a README that checks them with OpenSSL alone —
//! so that nobody needs to trust this program or its store.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::json;

use super::check::unhex;
use crate::store::{AnchorRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("anchor {0}: the stored reply or root is damaged (not base64/hex)")]
    Damaged(String),
}

/// `anchors`: one line per anchor, oldest first.
pub fn list(store: &Store) -> Result<String, StoreError> {
    let anchors = store.anchors()?;
    let mut out = String::new();
    for a in &anchors {
        let _ = writeln!(
            out,
            "{}  {:<16} root {}  {} sources",
            a.gen_time.strftime("%Y-%m-%d %H:%M:%SZ"),
            a.tsa,
            a.root,
            a.heads.len()
        );
    }
    let _ = writeln!(out, "{} anchors", anchors.len());
    Ok(out)
}

/// `anchors --json`.
pub fn list_json(store: &Store) -> Result<String, StoreError> {
    let list: Vec<serde_json::Value> = store
        .anchors()?
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "tsa": a.tsa,
                "url": a.url,
                "gen_time": a.gen_time.to_string(),
                "created_at": a.created_at.to_string(),
                "root": a.root,
                "sources": a.heads.len(),
                "serial": a.serial,
                "policy": a.policy,
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&list).unwrap_or_default() + "\n")
}

/// `anchors --export DIR`: a folder per anchor (`001-TSA-YYYYMMDDTHHMMSSZ`)
/// holding `anchor.tsr`, `root.bin`, `heads.json`, `ca.pem` and
/// `README.txt`, for the anchors of [`Store::anchors`]. Returns the folders
/// written.
pub fn export_dir(anchors: &[AnchorRecord], dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|source| ExportError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        let sub = dir.join(format!(
            "{:03}-{}-{}",
            i + 1,
            a.tsa,
            a.gen_time.strftime("%Y%m%dT%H%M%SZ")
        ));
        std::fs::create_dir_all(&sub).map_err(|source| ExportError::Write {
            path: sub.clone(),
            source,
        })?;
        let reply = base64::engine::general_purpose::STANDARD
            .decode(&a.response)
            .map_err(|_| ExportError::Damaged(a.id.clone()))?;
        let root = unhex(&a.root).ok_or_else(|| ExportError::Damaged(a.id.clone()))?;
        let mut heads = a.heads.clone();
        heads.sort_by(|x, y| x.source.as_bytes().cmp(y.source.as_bytes()));
        let heads_json = serde_json::to_string_pretty(&heads).unwrap_or_default() + "\n";
        write(sub.join("anchor.tsr"), &reply)?;
        write(sub.join("root.bin"), &root)?;
        write(sub.join("heads.json"), heads_json.as_bytes())?;
        write(sub.join("ca.pem"), a.ca_pem.as_bytes())?;
        write(sub.join("README.txt"), readme(a).as_bytes())?;
        written.push(sub);
    }
    Ok(written)
}

/// The auditor's instructions for one anchor.
fn readme(a: &AnchorRecord) -> String {
    format!(
        r#"Trusted timestamp (RFC 3161) over a bulletin-watch history
==========================================================

TSA:        {tsa} ({url})
Time:       {gen_time} (the TSA's genTime)
Root:       {root}
Sources:    {n}
Serial:     {serial}
Policy:     {policy}

Files
  anchor.tsr   the TSA's whole reply (TimeStampResp, DER), as received
  root.bin     the 32 bytes of the Merkle root the TSA timestamped
  heads.json   what the root covers: each source's latest version and its
               record_hash at that time
  ca.pem       the CA certificate the TSA's certificate chains to

1. Check the timestamp with OpenSSL alone:

     openssl ts -verify -data root.bin -in anchor.tsr -CAfile ca.pem

   "Verification: OK" means the TSA signed SHA-256(root.bin) at the time
   above. Use the TSA's CA certificate from the TSA itself rather than
   ca.pem if you can. To read the token: openssl ts -reply -in anchor.tsr -text

2. Recompute the root from heads.json. The heads are sorted by source id
   (bytes of the UTF-8 id). A leaf is
       SHA-256(0x00 || source || 0x0A || record_hash)
   with source and record_hash (64 lower-case hex characters) as text; a
   node is SHA-256(0x01 || left || right) over two 32-byte hashes; each
   level pairs neighbours from the left and carries an odd last hash up
   unchanged; the one hash left is the root. For example:

     python3 - <<'PY'
     import hashlib, json
     heads = sorted(json.load(open("heads.json")), key=lambda h: h["source"].encode())
     level = [hashlib.sha256(b"\x00" + h["source"].encode() + b"\n"
                             + h["record_hash"].encode()).digest() for h in heads]
     while len(level) > 1:
         nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
                for i in range(0, len(level) - 1, 2)]
         if len(level) % 2:
             nxt.append(level[-1])
         level = nxt
     print(level[0].hex())
     PY

   and compare with: od -An -tx1 root.bin | tr -d ' \n'

3. Compare heads.json with the history: every record_hash must be the
   record_hash of that source and version in
   `bulletin-watch export --format jsonl` (and the prev_hash of the version
   after it, if any). Each record_hash is the SHA-256 of the version's
   record with record_hash left empty, so the history can be re-hashed
   independently too. `bulletin-watch verify` does all of this at once.
"#,
        tsa = a.tsa,
        url = a.url,
        gen_time = a.gen_time,
        root = a.root,
        n = a.heads.len(),
        serial = a.serial,
        policy = a.policy,
    )
}
