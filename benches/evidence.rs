//! Micro-benchmarks of trusted timestamps (`cargo bench --bench evidence`;
//! see BENCHMARKS.md): the Merkle root over many chain heads, and the
//! offline check of one token (what `verify` does per stored anchor) —
//! a real RSA-2048 token made by `openssl ts -reply` with a test CA, so the
//! `openssl` binary is needed.

use std::path::Path;
use std::process::Command;

mod harness;

use std::hint::black_box;

use bulletin_watch::evidence::{merkle, tsp};
use bulletin_watch::model::ChainHead;

fn heads(n: usize) -> Vec<ChainHead> {
    (0..n)
        .map(|i| ChainHead {
            source: format!("listing-{}.{:08x}", i % 40, i),
            version: 1 + (i % 7) as u32,
            record_hash: bulletin_watch::model::sha256_hex(&i.to_le_bytes()),
        })
        .collect()
}

fn main() {
    let h = harness::Harness::from_args();
    for n in [1_000, 10_000] {
        let heads = heads(n);
        h.bench(&format!("merkle-root/{n}-heads"), None, || {
            merkle::root(black_box(&heads))
        });
    }
    token(&h);
}

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "openssl {args:?} failed");
}

fn token(h: &harness::Harness) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(
        dir.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n\
         [tsa]\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tsa.cnf"),
        "[t]\nserial = serial\ncrypto_device = builtin\nsigner_cert = tsa.pem\n\
         signer_key = tsa.key\ncerts = tsa.pem\nsigner_digest = sha256\n\
         default_policy = 1.2.3.4.1\ndigests = sha256\ness_cert_id_alg = sha256\n",
    )
    .unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=bench CA",
            "-config",
            "ext.cnf",
            "-extensions",
            "ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "tsa.key",
            "-out",
            "tsa.csr",
            "-subj",
            "/CN=bench TSA",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "tsa",
        ],
    );
    let r = merkle::root(&heads(1_000)).unwrap();
    let req = tsp::request(&r).unwrap();
    std::fs::write(dir.join("q.tsq"), &req.der).unwrap();
    openssl(
        dir,
        &[
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-section",
            "t",
            "-queryfile",
            "q.tsq",
            "-out",
            "r.tsr",
        ],
    );
    let reply = std::fs::read(dir.join("r.tsr")).unwrap();
    let ca = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    tsp::check_reply(&reply, &req.imprint, &req.nonce, &ca).expect("the token checks");
    h.bench("check-token-rsa2048", None, || {
        tsp::check_reply(black_box(&reply), &req.imprint, &req.nonce, &ca)
    });
}
