//! A strict parser of `multipart/related` bodies (RFC 2387 over RFC 2046),
//! the format of Drive's `uploadType=multipart` requests.

use std::fmt;

/// One body part: its headers (names lower-cased) and its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// `(name, value)` pairs, names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The part's content, exactly as sent.
    pub body: Vec<u8>,
}

impl Part {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The media type of the part (`Content-Type` without parameters, lower-cased).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

/// Why a multipart body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartError(pub String);

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MultipartError {}

fn err(m: impl Into<String>) -> MultipartError {
    MultipartError(m.into())
}

/// The `boundary` parameter of a `multipart/related` content type.
///
/// # Errors
/// When the type is not `multipart/related`, or the boundary is missing or
/// not 1 to 70 characters of RFC 2046's alphabet.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut it = content_type.split(';');
    let ty = it.next().unwrap_or("").trim();
    if !ty.eq_ignore_ascii_case("multipart/related") {
        return Err(err(format!("Content-Type must be multipart/related, got {ty:?}")));
    }
    for param in it {
        let Some((k, v)) = param.split_once('=') else {
            return Err(err("malformed Content-Type parameter"));
        };
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            let ok_char = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c);
            if v.is_empty() || v.len() > 70 || !v.chars().all(ok_char) || v.ends_with(' ') {
                return Err(err("invalid multipart boundary"));
            }
            return Ok(v.to_owned());
        }
    }
    Err(err("multipart/related without a boundary parameter"))
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() || from > hay.len() - needle.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Skips RFC 2046 transport padding (spaces and tabs) then one CRLF (or LF).
fn skip_padding_and_eol(b: &[u8], mut i: usize) -> Result<usize, MultipartError> {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if b[i..].starts_with(b"\r\n") {
        Ok(i + 2)
    } else if b[i..].starts_with(b"\n") {
        Ok(i + 1)
    } else {
        Err(err("a multipart boundary line must end with CRLF"))
    }
}

/// Splits a `multipart/related` body into its parts.
///
/// The preamble before the first delimiter and the epilogue after the close
/// delimiter are ignored, as RFC 2046 says. Every part needs a header block
/// ended by an empty line; the close delimiter (`--boundary--`) is required.
///
/// # Errors
/// On any malformed input; never panics.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, MultipartError> {
    let dash = format!("--{boundary}").into_bytes();
    // The first delimiter is at the very start or after a line break.
    let mut pos = if body.starts_with(&dash) {
        0
    } else {
        let mut d = b"\n".to_vec();
        d.extend_from_slice(&dash);
        find(body, &d, 0).map(|p| p + 1).ok_or_else(|| err("no multipart boundary found in the body"))?
    };
    let mut delim = b"\r\n".to_vec();
    delim.extend_from_slice(&dash);
    let mut parts = Vec::new();
    loop {
        // `pos` is at "--boundary".
        let after = pos + dash.len();
        if body[after..].starts_with(b"--") {
            if parts.is_empty() {
                return Err(err("a multipart body needs at least one part"));
            }
            return Ok(parts);
        }
        let start = skip_padding_and_eol(body, after)?;
        let end = find(body, &delim, start).ok_or_else(|| err("multipart body without a close delimiter"))?;
        parts.push(parse_part(&body[start..end])?);
        if parts.len() > 16 {
            return Err(err("too many parts in a multipart body"));
        }
        pos = end + 2;
    }
}

fn parse_part(raw: &[u8]) -> Result<Part, MultipartError> {
    let (head, body) = if raw.starts_with(b"\r\n") {
        (&raw[..0], &raw[2..])
    } else {
        let sep = find(raw, b"\r\n\r\n", 0).ok_or_else(|| err("a multipart part needs headers and an empty line"))?;
        (&raw[..sep], &raw[sep + 4..])
    };
    let head = std::str::from_utf8(head).map_err(|_| err("multipart part headers are not UTF-8"))?;
    let mut headers = Vec::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').ok_or_else(|| err(format!("malformed part header line {line:?}")))?;
        let k = k.trim();
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err("malformed part header name"));
        }
        headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
    }
    Ok(Part { headers, body: body.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "MDuXWGyeE33QFXGchb2VFWc4Z7945d";

    #[test]
    fn parses_the_google_client_layout_with_a_leading_crlf() {
        let body = format!(
            "\r\n--{B}\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{{\"name\":\"a\"}}\r\n--{B}\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n\x02\r\n--{B}--\r\n"
        );
        let parts = parse(body.as_bytes(), B).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].media_type().as_deref(), Some("application/json"));
        assert_eq!(parts[0].body, br#"{"name":"a"}"#);
        assert_eq!(parts[1].body, b"\x00\x01\r\n\x02");
        assert_eq!(parts[0].header("CONTENT-LENGTH"), Some("13"));
    }

    #[test]
    fn parses_the_documented_layout_without_preamble() {
        let body = format!("--{B}\r\nContent-Type: text/plain\r\n\r\nhi\r\n--{B}--");
        assert_eq!(parse(body.as_bytes(), B).unwrap()[0].body, b"hi");
    }

    #[test]
    fn refuses_bodies_without_close_delimiter_or_parts() {
        for bad in [
            String::new(),
            format!("--{B}\r\nContent-Type: text/plain\r\n\r\nhi"),
            format!("--{B}--"),
            format!("--{B}garbage\r\n\r\n\r\n--{B}--"),
            format!("--{B}\r\nno-colon-line\r\n\r\nx\r\n--{B}--"),
            "no boundary at all".to_owned(),
        ] {
            assert!(parse(bad.as_bytes(), B).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn boundary_comes_from_the_content_type() {
        assert_eq!(boundary(&format!("multipart/related;boundary={B}")).unwrap(), B);
        assert_eq!(boundary("Multipart/Related; boundary=\"a b\"").unwrap(), "a b");
        assert!(boundary("multipart/form-data; boundary=x").is_err());
        assert!(boundary("multipart/related").is_err());
        assert!(boundary("multipart/related; boundary=").is_err());
        assert!(boundary(&format!("multipart/related; boundary={}", "x".repeat(71))).is_err());
    }

    #[test]
    fn never_panics_on_truncated_input() {
        let body = format!(
            "\r\n--{B}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{B}\r\nContent-Type: a/b\r\n\r\nxy\r\n--{B}--\r\n"
        );
        for i in 0..body.len() {
            let _ = parse(&body.as_bytes()[..i], B);
        }
    }
}
