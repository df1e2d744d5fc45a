//! RFC 3161 on the wire: the `TimeStampReq` we send and every check of the
//! `TimeStampResp` we get back, with the ASN.1 types of RustCrypto's
//! `x509-tsp`, `cms` and `x509-cert` (no DER is written by hand here) and
//! the signatures checked with `ring`, which rustls already links.
//!
//! A reply is accepted only if all of this holds:
//!
//! * the status is `granted` (or `grantedWithMods`) and a token is present;
//! * the token is CMS `SignedData` over a `TSTInfo`, with one signer whose
//!   signed attributes name that content type and carry its digest;
//! * the `TSTInfo`'s message imprint is SHA-256 and equals ours, and its
//!   nonce equals the nonce we sent;
//! * the signer's certificate is in the token (we ask with `certReq`), its
//!   signature over the signed attributes verifies (RSA PKCS#1 v1.5 with
//!   SHA-256/384/512, or ECDSA P-256/P-384), it has the extended key usage
//!   `timeStamping`, marked critical, as RFC 3161 requires;
//! * it chains, certificate by certificate (each signature verified, each
//!   issuer a CA), to a certificate of the TSA's `ca_file`, and every
//!   certificate of the chain was valid at the token's `genTime`.
//!
//! The same function checks a stored token offline: nothing here touches
//! the network or the clock.

use cmpv2::status::PkiStatus;
use cms::cert::x509::ext::pkix::name::GeneralName;
use cms::cert::x509::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use cms::cert::x509::ext::Extensions;
use cms::cert::x509::spki::{
    AlgorithmIdentifier, AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned,
};
use cms::cert::x509::Certificate;
use cms::cert::CertificateChoices;
use cms::content_info::CmsVersion;
use cms::content_info::ContentInfo;
use cms::revocation::RevocationInfoChoices;
use cms::signed_data::{
    DigestAlgorithmIdentifiers, EncapsulatedContentInfo, SignerIdentifier, SignerInfos,
};
use der::asn1::{Int, OctetString};
use der::oid::db::{rfc5280, rfc5911, rfc5912};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode, Sequence};
use der::{Tag, Tagged};
use jiff::Timestamp;
use ring::signature;
use sha2::{Digest, Sha256};
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

use super::merkle::hex;

/// `id-ct-TSTInfo` (RFC 3161): the content type of a timestamp token.
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// The longest certificate chain followed from the signer to `ca_file`.
const MAX_CHAIN: usize = 8;

/// CMS `SignedData` as `cms` defines it, except that the certificates are
/// read as a plain list: OpenSSL puts the signer's certificate in twice when
/// it is also in the TSA's `certs` chain, and `der`'s SET OF refuses
/// duplicates, which would reject real tokens.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SignedData {
    version: CmsVersion,
    digest_algorithms: DigestAlgorithmIdentifiers,
    encap_content_info: EncapsulatedContentInfo,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    certificates: Option<Vec<CertificateChoices>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    crls: Option<RevocationInfoChoices>,
    signer_infos: SignerInfos,
}

/// `TSTInfo` as `x509-tsp` defines it, except that `genTime` is kept as
/// written: `der` accepts no fractional seconds, which RFC 3161 allows
/// and many TSAs send (see [`gen_time`]).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfo {
    version: TspVersion,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Extensions>,
}

/// A `GeneralizedTime` as RFC 3161 §2.4.2 writes `genTime`:
/// `YYYYMMDDhhmmss[.s...]Z`.
fn gen_time(any: &Any) -> Result<Timestamp, TokenError> {
    let bad = || TokenError::Invalid("genTime is not a GeneralizedTime in UTC".into());
    if any.tag() != Tag::GeneralizedTime {
        return Err(bad());
    }
    let s = std::str::from_utf8(any.value()).map_err(|_| bad())?;
    let s = s.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) if !f.is_empty() && f.len() <= 9 => (w, Some(f)),
        Some(_) => return Err(bad()),
        None => (s, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.len() != 14 || !digits(whole) || !fraction.is_none_or(digits) {
        return Err(bad());
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}{}Z",
        &whole[0..4],
        &whole[4..6],
        &whole[6..8],
        &whole[8..10],
        &whole[10..12],
        &whole[12..14],
        fraction.map(|f| format!(".{f}")).unwrap_or_default()
    );
    iso.parse().map_err(|_| bad())
}

/// Why a reply (or a stored token) is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed {what}")]
    Malformed {
        what: &'static str,
        #[source]
        source: der::Error,
    },
    #[error("the TSA refused: status {status}{}", text.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Refused {
        status: String,
        text: Option<String>,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the message imprint is not the one asked for (token {found}, expected {expected})")]
    Imprint { found: String, expected: String },
    #[error("the nonce is not the one sent (token {found}, sent {sent})")]
    Nonce { found: String, sent: String },
    #[error("signature does not verify: {0}")]
    Signature(String),
    #[error("the signer's certificate does not chain to ca_file: {0}")]
    Chain(String),
    #[error(
        "certificate {subject} was not valid at the token's time {at} (valid {from} to {until})"
    )]
    Expired {
        subject: String,
        at: String,
        from: String,
        until: String,
    },
    #[error("the signer's certificate is not for timestamping: {0}")]
    Usage(String),
    #[error("the CA file is not readable PEM")]
    Ca(#[source] der::Error),
}

fn malformed(what: &'static str) -> impl FnOnce(der::Error) -> TokenError {
    move |source| TokenError::Malformed { what, source }
}

/// A request ready to send, and what its reply must echo.
#[derive(Debug, Clone)]
pub struct Request {
    pub der: Vec<u8>,
    pub nonce: Vec<u8>,
    /// SHA-256 over the root's 32 bytes.
    pub imprint: [u8; 32],
}

/// A `TimeStampReq` for `root`: SHA-256 imprint over its 32 bytes (so that
/// `openssl ts -verify -data root.bin` checks it), a random 64-bit nonce
/// and `certReq`.
pub fn request(root: &[u8; 32]) -> Result<Request, TokenError> {
    let imprint: [u8; 32] = Sha256::digest(root).into();
    let mut nonce = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| TokenError::Invalid("no random numbers for the nonce".into()))?;
    // A positive INTEGER with no leading zero byte.
    nonce[0] = (nonce[0] & 0x7f).max(1);
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: sha256_imprint(&imprint)?,
        req_policy: None,
        nonce: Some(Int::new(&nonce).map_err(malformed("nonce"))?),
        cert_req: true,
        extensions: None,
    };
    Ok(Request {
        der: req.to_der().map_err(malformed("request"))?,
        nonce: nonce.to_vec(),
        imprint,
    })
}

fn sha256_imprint(hash: &[u8; 32]) -> Result<MessageImprint, TokenError> {
    // SHA-256 with NULL parameters, as OpenSSL writes it.
    Ok(MessageImprint {
        hash_algorithm: AlgorithmIdentifier {
            oid: rfc5912::ID_SHA_256,
            parameters: Some(Any::null()),
        },
        hashed_message: OctetString::new(hash.to_vec()).map_err(malformed("imprint"))?,
    })
}

/// What an accepted token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub gen_time: Timestamp,
    /// Serial number and policy, as hex and dotted OID.
    pub serial: String,
    pub policy: String,
    /// The signer certificate's subject.
    pub signer: String,
}

/// Checks a whole `TimeStampResp` (DER) against the imprint and nonce we
/// sent and the TSA's CA certificates (`ca_pem`); see the module comment.
pub fn check_reply(
    reply: &[u8],
    imprint: &[u8; 32],
    nonce: &[u8],
    ca_pem: &str,
) -> Result<Token, TokenError> {
    let resp = TimeStampResp::from_der(reply).map_err(malformed("TimeStampResp"))?;
    let anchors = Certificate::load_pem_chain(ca_pem.as_bytes()).map_err(TokenError::Ca)?;
    if anchors.is_empty() {
        return Err(TokenError::Chain("the CA file holds no certificate".into()));
    }
    let status = resp.status.status;
    if !matches!(status, PkiStatus::Accepted | PkiStatus::GrantedWithMods) {
        let text = resp.status.status_string.as_ref().map(|texts| {
            texts
                .iter()
                .map(|t| t.as_str().to_string())
                .collect::<Vec<_>>()
                .join("; ")
        });
        return Err(TokenError::Refused {
            status: format!("{status:?}").to_lowercase(),
            text,
        });
    }
    let token = resp
        .time_stamp_token
        .as_ref()
        .ok_or_else(|| TokenError::Invalid("status granted, but no token in the reply".into()))?;
    check_token(token, imprint, nonce, &anchors)
}

fn check_token(
    token: &ContentInfo,
    imprint: &[u8; 32],
    nonce: &[u8],
    anchors: &[Certificate],
) -> Result<Token, TokenError> {
    if token.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(TokenError::Invalid(format!(
            "the token is {}, not CMS SignedData",
            token.content_type
        )));
    }
    let content = token.content.to_der().map_err(malformed("token"))?;
    let sd = SignedData::from_der(&content).map_err(malformed("SignedData"))?;
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(TokenError::Invalid(format!(
            "the signed content is {}, not a TSTInfo",
            sd.encap_content_info.econtent_type
        )));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| TokenError::Invalid("the token carries no TSTInfo".into()))?;
    let tst_der = econtent.value();
    let tst = TstInfo::from_der(tst_der).map_err(malformed("TSTInfo"))?;

    // What was stamped, and for whom.
    if tst.message_imprint.hash_algorithm.oid != rfc5912::ID_SHA_256 {
        return Err(TokenError::Invalid(format!(
            "the imprint uses {}, not SHA-256",
            tst.message_imprint.hash_algorithm.oid
        )));
    }
    let found = tst.message_imprint.hashed_message.as_bytes();
    if found != imprint {
        return Err(TokenError::Imprint {
            found: hex(found),
            expected: hex(imprint),
        });
    }
    match &tst.nonce {
        Some(n) if n.as_bytes() == nonce => {}
        Some(n) => {
            return Err(TokenError::Nonce {
                found: hex(n.as_bytes()),
                sent: hex(nonce),
            })
        }
        None => {
            return Err(TokenError::Nonce {
                found: "none".into(),
                sent: hex(nonce),
            })
        }
    }
    let gen_time = gen_time(&tst.gen_time)?;

    // Who signed it.
    let signers: Vec<_> = sd.signer_infos.0.iter().collect();
    let [si] = signers.as_slice() else {
        return Err(TokenError::Invalid(format!(
            "the token has {} signers, not one",
            signers.len()
        )));
    };
    let digest = Hash::of(&si.digest_alg.oid)?;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TokenError::Invalid("the signer has no signed attributes".into()))?;
    let attr = |oid: ObjectIdentifier| -> Result<&Any, TokenError> {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
            .ok_or_else(|| TokenError::Invalid(format!("signed attribute {oid} missing")))
    };
    let ct: ObjectIdentifier = attr(rfc5911::ID_CONTENT_TYPE)?
        .decode_as()
        .map_err(malformed("content-type attribute"))?;
    if ct != ID_CT_TST_INFO {
        return Err(TokenError::Invalid(format!(
            "the signed content-type attribute is {ct}"
        )));
    }
    let md: OctetString = attr(rfc5911::ID_MESSAGE_DIGEST)?
        .decode_as()
        .map_err(malformed("message-digest attribute"))?;
    if md.as_bytes() != digest.digest(tst_der).as_slice() {
        return Err(TokenError::Signature(
            "the signed message digest is not the TSTInfo's".into(),
        ));
    }
    let certs: Vec<Certificate> = sd
        .certificates
        .as_ref()
        .map(|set| {
            set.iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c.clone()),
                    CertificateChoices::Other(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let signer = certs
        .iter()
        .find(|c| is_signer(c, &si.sid))
        .ok_or_else(|| {
            TokenError::Invalid("the signer's certificate is not in the token".into())
        })?;
    let signed = attrs.to_der().map_err(malformed("signed attributes"))?;
    verify(
        &signer.tbs_certificate.subject_public_key_info,
        &si.signature_algorithm,
        Some(digest),
        &signed,
        si.signature.as_bytes(),
    )
    .map_err(|e| TokenError::Signature(format!("token signature: {e}")))?;
    timestamping_usage(signer)?;
    chain(signer, &certs, anchors, gen_time)?;
    Ok(Token {
        gen_time,
        serial: hex(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
        signer: signer.tbs_certificate.subject.to_string(),
    })
}

fn is_signer(cert: &Certificate, sid: &SignerIdentifier) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            cert.tbs_certificate.issuer == ias.issuer
                && cert.tbs_certificate.serial_number == ias.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            extension::<SubjectKeyIdentifier>(cert, rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER)
                .is_some_and(|(_, k)| k.0 == ski.0)
        }
    }
}

/// The decoded extension `oid` of `cert`, with its critical flag.
fn extension<'a, T: Decode<'a>>(cert: &'a Certificate, oid: ObjectIdentifier) -> Option<(bool, T)> {
    let ext = cert
        .tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)?;
    T::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(|v| (ext.critical, v))
}

/// RFC 3161 §2.3: the TSA's certificate has exactly the extended key usage
/// `timeStamping`, marked critical.
fn timestamping_usage(cert: &Certificate) -> Result<(), TokenError> {
    match extension::<ExtendedKeyUsage>(cert, rfc5280::ID_CE_EXT_KEY_USAGE) {
        None => Err(TokenError::Usage("no extended key usage".into())),
        Some((_, eku)) if !eku.0.contains(&rfc5280::ID_KP_TIME_STAMPING) => Err(TokenError::Usage(
            "extended key usage lacks timeStamping".into(),
        )),
        Some((false, _)) => Err(TokenError::Usage(
            "extended key usage timeStamping is not marked critical".into(),
        )),
        Some(_) => Ok(()),
    }
}

fn is_ca(cert: &Certificate) -> bool {
    extension::<BasicConstraints>(cert, rfc5280::ID_CE_BASIC_CONSTRAINTS).is_some_and(|(_, b)| b.ca)
}

fn valid_at(cert: &Certificate, at: Timestamp) -> Result<(), TokenError> {
    let v = &cert.tbs_certificate.validity;
    let secs = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    let (from, until) = (secs(v.not_before), secs(v.not_after));
    let now = at.as_second();
    if now < from || now > until {
        let show =
            |s: i64| Timestamp::from_second(s).map_or_else(|_| s.to_string(), |t| t.to_string());
        return Err(TokenError::Expired {
            subject: cert.tbs_certificate.subject.to_string(),
            at: at.to_string(),
            from: show(from),
            until: show(until),
        });
    }
    Ok(())
}

/// Follows issuers from `signer` through the token's certificates to one
/// of `anchors` (the TSA's `ca_file`), checking every signature on the way
/// and every certificate's validity at `at`.
fn chain(
    signer: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: Timestamp,
) -> Result<(), TokenError> {
    let mut cur = signer;
    for _ in 0..MAX_CHAIN {
        valid_at(cur, at)?;
        if anchors.iter().any(|a| a == cur) {
            return Ok(());
        }
        let issued_by = |issuer: &Certificate| {
            issuer.tbs_certificate.subject == cur.tbs_certificate.issuer
                && verify(
                    &issuer.tbs_certificate.subject_public_key_info,
                    &cur.signature_algorithm,
                    None,
                    &cur.tbs_certificate.to_der().unwrap_or_default(),
                    cur.signature.raw_bytes(),
                )
                .is_ok()
        };
        if let Some(a) = anchors.iter().find(|a| issued_by(a)) {
            return valid_at(a, at);
        }
        match pool.iter().find(|c| *c != cur && is_ca(c) && issued_by(c)) {
            Some(next) => cur = next,
            None => {
                return Err(TokenError::Chain(format!(
                    "no certificate of ca_file (or of the token) issued {} (issuer {})",
                    cur.tbs_certificate.subject, cur.tbs_certificate.issuer
                )))
            }
        }
    }
    Err(TokenError::Chain(format!(
        "longer than {MAX_CHAIN} certificates"
    )))
}

/// The digests a signer may use.
#[derive(Debug, Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn of(oid: &ObjectIdentifier) -> Result<Hash, TokenError> {
        match *oid {
            rfc5912::ID_SHA_256 => Ok(Hash::Sha256),
            rfc5912::ID_SHA_384 => Ok(Hash::Sha384),
            rfc5912::ID_SHA_512 => Ok(Hash::Sha512),
            other => Err(TokenError::Invalid(format!(
                "unsupported digest algorithm {other}"
            ))),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Hash::Sha256 => &ring::digest::SHA256,
            Hash::Sha384 => &ring::digest::SHA384,
            Hash::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(alg, data).as_ref().to_vec()
    }
}

/// Verifies `sig` over `msg` with the key `spki`, for signature algorithm
/// `alg` (`rsaEncryption` as CMS writes it takes its digest from `digest`).
fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    digest: Option<Hash>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    use signature::VerificationAlgorithm as V;
    let curve =
        || -> Option<ObjectIdentifier> { spki.algorithm.parameters.as_ref()?.decode_as().ok() };
    let ring_alg: &dyn V = match (alg.oid, digest) {
        (rfc5912::SHA_256_WITH_RSA_ENCRYPTION, _)
        | (rfc5912::RSA_ENCRYPTION, Some(Hash::Sha256)) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (rfc5912::SHA_384_WITH_RSA_ENCRYPTION, _)
        | (rfc5912::RSA_ENCRYPTION, Some(Hash::Sha384)) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (rfc5912::SHA_512_WITH_RSA_ENCRYPTION, _)
        | (rfc5912::RSA_ENCRYPTION, Some(Hash::Sha512)) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (rfc5912::ECDSA_WITH_SHA_256, _) => match curve() {
            Some(rfc5912::SECP_256_R_1) => &signature::ECDSA_P256_SHA256_ASN1,
            Some(rfc5912::SECP_384_R_1) => &signature::ECDSA_P384_SHA256_ASN1,
            other => return Err(format!("unsupported EC curve {other:?}")),
        },
        (rfc5912::ECDSA_WITH_SHA_384, _) => match curve() {
            Some(rfc5912::SECP_256_R_1) => &signature::ECDSA_P256_SHA384_ASN1,
            Some(rfc5912::SECP_384_R_1) => &signature::ECDSA_P384_SHA384_ASN1,
            other => return Err(format!("unsupported EC curve {other:?}")),
        },
        (other, _) => return Err(format!("unsupported signature algorithm {other}")),
    };
    let key = spki.subject_public_key.raw_bytes();
    signature::UnparsedPublicKey::new(ring_alg, key)
        .verify(msg, sig)
        .map_err(|_| "the signature is not valid for the key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_imprint_nonce_and_cert_req() {
        let root = [7u8; 32];
        let r = request(&root).unwrap();
        let req = TimeStampReq::from_der(&r.der).unwrap();
        assert_eq!(req.message_imprint.hash_algorithm.oid, rfc5912::ID_SHA_256);
        assert_eq!(
            req.message_imprint.hashed_message.as_bytes(),
            Sha256::digest(root).as_slice()
        );
        assert_eq!(req.nonce.unwrap().as_bytes(), r.nonce.as_slice());
        assert!(req.cert_req);
        // Two requests never share a nonce.
        assert_ne!(request(&root).unwrap().nonce, r.nonce);
    }

    #[test]
    fn gen_time_takes_fractional_seconds() {
        let t = |s: &str| gen_time(&Any::new(Tag::GeneralizedTime, s.as_bytes()).unwrap());
        assert_eq!(
            t("20261201123456Z").unwrap().to_string(),
            "2026-12-01T12:34:56Z"
        );
        assert_eq!(
            t("20261201123456.125Z").unwrap().to_string(),
            "2026-12-01T12:34:56.125Z"
        );
        for bad in [
            "20261201123456",
            "2026120112345Z",
            "20261201123456.Z",
            "2026120112345xZ",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let err = check_reply(b"\x30\x03\x02\x01", &[0; 32], &[1], "").unwrap_err();
        assert!(matches!(err, TokenError::Malformed { .. }), "{err}");
    }
}
