//! RFC 3161 structures: TimeStampReq encoding, TimeStampResp and TimeStampToken parsing.

use crate::der::{self, ctx_cons, ctx_prim, DerError, Reader};
use crate::{SignatureCheck, TokenInfo};

pub(crate) const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_ATTR_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_ATTR_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";

/// DER of the SHA-256 OBJECT IDENTIFIER's content octets.
const SHA256_OID_BYTES: [u8; 9] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

/// Name of a hash algorithm OID, or the dotted OID when unknown.
pub(crate) fn hash_name(oid: &str) -> String {
    match oid {
        "1.3.14.3.2.26" => "sha1",
        "2.16.840.1.101.3.4.2.4" => "sha224",
        OID_SHA256 => "sha256",
        "2.16.840.1.101.3.4.2.2" => "sha384",
        "2.16.840.1.101.3.4.2.3" => "sha512",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// Encodes a TimeStampReq: version 1, SHA-256 messageImprint, nonce, certReq TRUE.
pub(crate) fn encode_request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let alg = der::encode(
        der::SEQUENCE,
        &[
            der::encode(der::OID, &SHA256_OID_BYTES),
            der::encode(der::NULL, &[]),
        ]
        .concat(),
    );
    let imprint = der::encode(
        der::SEQUENCE,
        &[alg, der::encode(der::OCTET_STRING, digest)].concat(),
    );
    let body = [
        der::encode_u64(1),
        imprint,
        der::encode_u64(nonce),
        der::encode(der::BOOLEAN, &[0xff]),
    ]
    .concat();
    der::encode(der::SEQUENCE, &body)
}

/// PKIStatus values (RFC 3161 section 2.4.2).
pub(crate) fn status_name(status: u64) -> &'static str {
    match status {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown",
    }
}

/// PKIFailureInfo bit names (RFC 3161 section 2.4.2).
fn fail_info_name(bit: usize) -> Option<&'static str> {
    Some(match bit {
        0 => "badAlg",
        2 => "badRequest",
        5 => "badDataFormat",
        14 => "timeNotAvailable",
        15 => "unacceptedPolicy",
        16 => "unacceptedExtension",
        17 => "addInfoNotAvailable",
        25 => "systemFailure",
        _ => return None,
    })
}

/// A parsed TimeStampResp.
#[derive(Debug)]
pub(crate) struct Response<'a> {
    pub(crate) status: u64,
    pub(crate) status_text: Option<String>,
    pub(crate) fail_info: Vec<String>,
    pub(crate) token: Option<&'a [u8]>,
}

pub(crate) fn parse_response(data: &[u8]) -> Result<Response<'_>, DerError> {
    let resp = der::parse_single(data, der::SEQUENCE, "TimeStampResp")?;
    let mut r = Reader::new(resp);
    let status_info = r.read(der::SEQUENCE, "PKIStatusInfo")?;
    let token = if r.is_empty() {
        None
    } else {
        Some(r.read_tlv(der::SEQUENCE, "timeStampToken")?.raw)
    };
    r.finish("TimeStampResp")?;

    let mut s = Reader::new(status_info);
    let status = der::small_unsigned(s.read(der::INTEGER, "PKIStatus")?, "PKIStatus")?;
    let mut status_text = None;
    if let Some(texts) = s.read_optional(der::SEQUENCE, "statusString")? {
        let mut t = Reader::new(texts);
        let mut parts = Vec::new();
        while !t.is_empty() {
            let v = t.read(der::UTF8_STRING, "statusString")?;
            parts.push(String::from_utf8_lossy(v).into_owned());
        }
        status_text = Some(parts.join("; "));
    }
    let mut fail_info = Vec::new();
    if let Some(bits) = s.read_optional(der::BIT_STRING, "failInfo")? {
        let (&unused, bytes) = bits
            .split_first()
            .ok_or_else(|| DerError::new("failInfo", "empty BIT STRING"))?;
        if unused > 7 || (bytes.is_empty() && unused != 0) {
            return Err(DerError::new("failInfo", "invalid BIT STRING"));
        }
        for (i, byte) in bytes.iter().enumerate() {
            for j in 0..8 {
                if byte & (0x80 >> j) != 0 {
                    let bit = i * 8 + j;
                    fail_info.push(
                        fail_info_name(bit).map_or_else(|| format!("bit{bit}"), str::to_owned),
                    );
                }
            }
        }
    }
    s.finish("PKIStatusInfo")?;
    Ok(Response {
        status,
        status_text,
        fail_info,
        token,
    })
}

fn algorithm_identifier(value: &[u8], field: &'static str) -> Result<String, DerError> {
    let mut r = Reader::new(value);
    let oid = der::oid_to_string(r.read(der::OID, field)?, field)?;
    // Parameters: absent or NULL for the hash algorithms; tolerate others by skipping one element.
    if !r.is_empty() {
        r.read_any(field)?;
    }
    r.finish(field)?;
    Ok(oid)
}

/// A parsed TimeStampToken, borrowing from its DER.
#[derive(Debug)]
pub(crate) struct ParsedToken<'a> {
    pub(crate) info: TokenInfo,
    /// The DER of TSTInfo (the eContent octets the signature covers via messageDigest).
    pub(crate) tst_info: &'a [u8],
    /// The SignerInfo's digestAlgorithm, dotted.
    pub(crate) signer_digest_oid: String,
    /// The signed attribute messageDigest.
    pub(crate) message_digest_attr: &'a [u8],
    /// The raw nonce magnitude, for comparison with the request.
    pub(crate) nonce: Option<&'a [u8]>,
}

pub(crate) fn parse_token(data: &[u8]) -> Result<ParsedToken<'_>, DerError> {
    // ContentInfo
    let ci = der::parse_single(data, der::SEQUENCE, "ContentInfo")?;
    let mut r = Reader::new(ci);
    let ct = der::oid_to_string(
        r.read(der::OID, "ContentInfo.contentType")?,
        "ContentInfo.contentType",
    )?;
    if ct != OID_SIGNED_DATA {
        return Err(DerError::new(
            "ContentInfo.contentType",
            format!("{ct} is not signedData"),
        ));
    }
    let content = r.read(ctx_cons(0), "ContentInfo.content")?;
    r.finish("ContentInfo")?;

    // SignedData
    let sd = der::parse_single(content, der::SEQUENCE, "SignedData")?;
    let mut r = Reader::new(sd);
    der::small_unsigned(
        r.read(der::INTEGER, "SignedData.version")?,
        "SignedData.version",
    )?;
    r.read(der::SET, "SignedData.digestAlgorithms")?;
    let encap = r.read(der::SEQUENCE, "SignedData.encapContentInfo")?;
    r.read_optional(ctx_cons(0), "SignedData.certificates")?;
    r.read_optional(ctx_cons(1), "SignedData.crls")?;
    let signer_infos = r.read(der::SET, "SignedData.signerInfos")?;
    r.finish("SignedData")?;

    // EncapsulatedContentInfo
    let mut e = Reader::new(encap);
    let ect = der::oid_to_string(e.read(der::OID, "eContentType")?, "eContentType")?;
    if ect != OID_TST_INFO {
        return Err(DerError::new(
            "eContentType",
            format!("{ect} is not id-ct-TSTInfo"),
        ));
    }
    let econtent = e.read(ctx_cons(0), "eContent")?;
    e.finish("encapContentInfo")?;
    let tst_info = der::parse_single(econtent, der::OCTET_STRING, "eContent")?;

    // Exactly one SignerInfo (RFC 3161 section 2.4.2).
    let mut s = Reader::new(signer_infos);
    let si = s.read(der::SEQUENCE, "SignerInfo")?;
    if !s.is_empty() {
        return Err(DerError::new("signerInfos", "more than one SignerInfo"));
    }
    let mut r = Reader::new(si);
    der::small_unsigned(
        r.read(der::INTEGER, "SignerInfo.version")?,
        "SignerInfo.version",
    )?;
    r.read_any("SignerInfo.sid")?;
    let signer_digest_oid = algorithm_identifier(
        r.read(der::SEQUENCE, "SignerInfo.digestAlgorithm")?,
        "SignerInfo.digestAlgorithm",
    )?;
    let attrs = r.read(ctx_cons(0), "SignerInfo.signedAttrs")?;
    r.read(der::SEQUENCE, "SignerInfo.signatureAlgorithm")?;
    let signature = r.read(der::OCTET_STRING, "SignerInfo.signature")?;
    if signature.is_empty() {
        return Err(DerError::new("SignerInfo.signature", "empty"));
    }
    r.read_optional(ctx_cons(1), "SignerInfo.unsignedAttrs")?;
    r.finish("SignerInfo")?;

    // Signed attributes: contentType must be id-ct-TSTInfo; messageDigest must be present.
    let mut a = Reader::new(attrs);
    let mut message_digest_attr = None;
    let mut content_type_ok = false;
    while !a.is_empty() {
        let attr = a.read(der::SEQUENCE, "signedAttrs.Attribute")?;
        let mut ar = Reader::new(attr);
        let ty = der::oid_to_string(ar.read(der::OID, "Attribute.type")?, "Attribute.type")?;
        let values = ar.read(der::SET, "Attribute.values")?;
        ar.finish("Attribute")?;
        let mut vr = Reader::new(values);
        match ty.as_str() {
            OID_ATTR_MESSAGE_DIGEST => {
                if message_digest_attr.is_some() {
                    return Err(DerError::new("messageDigest", "attribute repeated"));
                }
                message_digest_attr = Some(vr.read(der::OCTET_STRING, "messageDigest")?);
                vr.finish("messageDigest")?;
            }
            OID_ATTR_CONTENT_TYPE => {
                if content_type_ok {
                    return Err(DerError::new("contentType attribute", "attribute repeated"));
                }
                let v = der::oid_to_string(
                    vr.read(der::OID, "contentType attribute")?,
                    "contentType attribute",
                )?;
                vr.finish("contentType attribute")?;
                if v != OID_TST_INFO {
                    return Err(DerError::new(
                        "contentType attribute",
                        "is not id-ct-TSTInfo",
                    ));
                }
                content_type_ok = true;
            }
            _ => {}
        }
    }
    let message_digest_attr = message_digest_attr
        .ok_or_else(|| DerError::new("signedAttrs", "messageDigest attribute missing"))?;
    if !content_type_ok {
        return Err(DerError::new(
            "signedAttrs",
            "contentType attribute missing",
        ));
    }

    let (info, nonce) = parse_tst_info(tst_info)?;
    Ok(ParsedToken {
        info,
        tst_info,
        signer_digest_oid,
        message_digest_attr,
        nonce,
    })
}

fn parse_tst_info(data: &[u8]) -> Result<(TokenInfo, Option<&[u8]>), DerError> {
    let body = der::parse_single(data, der::SEQUENCE, "TSTInfo")?;
    let mut r = Reader::new(body);
    let version = der::small_unsigned(r.read(der::INTEGER, "TSTInfo.version")?, "TSTInfo.version")?;
    if version != 1 {
        return Err(DerError::new(
            "TSTInfo.version",
            format!("version {version}, expected 1"),
        ));
    }
    let policy = der::oid_to_string(r.read(der::OID, "TSTInfo.policy")?, "TSTInfo.policy")?;
    let mi = r.read(der::SEQUENCE, "TSTInfo.messageImprint")?;
    let mut m = Reader::new(mi);
    let hash_oid = algorithm_identifier(
        m.read(der::SEQUENCE, "messageImprint.hashAlgorithm")?,
        "messageImprint.hashAlgorithm",
    )?;
    let message_imprint = m
        .read(der::OCTET_STRING, "messageImprint.hashedMessage")?
        .to_vec();
    m.finish("messageImprint")?;
    let serial = der::unsigned_integer(
        r.read(der::INTEGER, "TSTInfo.serialNumber")?,
        "TSTInfo.serialNumber",
    )?;
    let gen_time = der::generalized_time_to_rfc3339(
        r.read(der::GENERALIZED_TIME, "TSTInfo.genTime")?,
        "TSTInfo.genTime",
    )?;
    r.read_optional(der::SEQUENCE, "TSTInfo.accuracy")?;
    if let Some(v) = r.read_optional(der::BOOLEAN, "TSTInfo.ordering")? {
        der::boolean(v, "TSTInfo.ordering")?;
    }
    let nonce = match r.read_optional(der::INTEGER, "TSTInfo.nonce")? {
        Some(v) => Some(der::unsigned_integer(v, "TSTInfo.nonce")?),
        None => None,
    };
    let tsa_name = match r.read_optional(ctx_cons(0), "TSTInfo.tsa")? {
        Some(v) => Some(general_name(v)?),
        None => None,
    };
    r.read_optional(ctx_cons(1), "TSTInfo.extensions")?;
    r.finish("TSTInfo")?;
    let info = TokenInfo {
        gen_time,
        serial: hex::encode(serial),
        policy,
        hash_algorithm: hash_name(&hash_oid),
        message_imprint,
        nonce: nonce.map(hex::encode),
        tsa_name,
        signature: SignatureCheck::NotChecked,
    };
    Ok((info, nonce))
}

/// Renders the `[0] EXPLICIT GeneralName` of TSTInfo.tsa.
fn general_name(explicit: &[u8]) -> Result<String, DerError> {
    const F: &str = "TSTInfo.tsa";
    let mut r = Reader::new(explicit);
    let name = r.read_any(F)?;
    r.finish(F)?;
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    Ok(match name.tag {
        t if t == ctx_prim(1) => format!("email:{}", text(name.value)),
        t if t == ctx_prim(2) => format!("DNS:{}", text(name.value)),
        t if t == ctx_prim(6) => format!("URI:{}", text(name.value)),
        t if t == ctx_cons(4) => {
            distinguished_name(der::parse_single(name.value, der::SEQUENCE, F)?)?
        }
        t => format!("<GeneralName tag 0x{t:02x}>"),
    })
}

/// Renders an X.501 Name (RDNSequence) in RFC 4514 order (most specific first).
fn distinguished_name(rdns: &[u8]) -> Result<String, DerError> {
    const F: &str = "TSTInfo.tsa directoryName";
    let mut parts = Vec::new();
    let mut r = Reader::new(rdns);
    while !r.is_empty() {
        let set = r.read(der::SET, F)?;
        let mut s = Reader::new(set);
        let mut rdn = Vec::new();
        while !s.is_empty() {
            let atv = s.read(der::SEQUENCE, F)?;
            let mut a = Reader::new(atv);
            let oid = der::oid_to_string(a.read(der::OID, F)?, F)?;
            let value = a.read_any(F)?;
            a.finish(F)?;
            let key = match oid.as_str() {
                "2.5.4.3" => "CN",
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.5" => "serialNumber",
                "1.2.840.113549.1.9.1" => "emailAddress",
                other => other,
            }
            .to_owned();
            let val = match value.tag {
                der::UTF8_STRING
                | der::PRINTABLE_STRING
                | der::IA5_STRING
                | der::TELETEX_STRING => String::from_utf8_lossy(value.value).into_owned(),
                der::BMP_STRING | der::UNIVERSAL_STRING => format!("#{}", hex::encode(value.raw)),
                _ => format!("#{}", hex::encode(value.raw)),
            };
            rdn.push(format!("{key}={}", escape_dn_value(&val)));
        }
        parts.push(rdn.join("+"));
    }
    parts.reverse();
    Ok(parts.join(","))
}

fn escape_dn_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        if c.is_control() {
            out.push_str(&format!("\\{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_encoding_is_stable() {
        let req = encode_request(&[0xab; 32], 0x0102_0304_0506_0708);
        let expected = format!(
            "3043020101\
             3031300d06096086480165030402010500\
             0420{}\
             02080102030405060708\
             0101ff",
            "ab".repeat(32)
        );
        assert_eq!(hex::encode(&req), expected);
    }

    #[test]
    fn rejection_response_parses() {
        // status rejection, statusString "unsupported algorithm", failInfo badAlg
        let text = der::encode(der::UTF8_STRING, b"unsupported algorithm");
        let info = der::encode(
            der::SEQUENCE,
            &[
                der::encode_u64(2),
                der::encode(der::SEQUENCE, &text),
                der::encode(der::BIT_STRING, &[7, 0x80]),
            ]
            .concat(),
        );
        let resp = der::encode(der::SEQUENCE, &info);
        let r = parse_response(&resp).unwrap();
        assert_eq!(r.status, 2);
        assert_eq!(r.status_text.as_deref(), Some("unsupported algorithm"));
        assert_eq!(r.fail_info, vec!["badAlg".to_owned()]);
        assert!(r.token.is_none());
    }
}
