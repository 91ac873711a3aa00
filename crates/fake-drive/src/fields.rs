//! Partial responses: the `fields` parameter of Google APIs
//! (`id,name`, `files(id,name),nextPageToken`, `files/id`, `*`).

use serde_json::{Map, Value};

/// A parsed field mask: each selected key and, optionally, what to keep under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldMask(Vec<(String, Option<FieldMask>)>);

/// Parses a `fields` value.
///
/// # Errors
/// A message for a malformed mask; never panics.
pub fn parse(s: &str) -> Result<FieldMask, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let m = mask(b, &mut i, 0)?;
    if i != b.len() {
        return Err(format!("Invalid field selection {s}"));
    }
    Ok(m)
}

fn mask(b: &[u8], i: &mut usize, depth: usize) -> Result<FieldMask, String> {
    if depth > 8 {
        return Err("field selection nested too deep".into());
    }
    let mut out = Vec::new();
    loop {
        let start = *i;
        while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] == b'*') {
            *i += 1;
        }
        if start == *i {
            return Err("Invalid field selection: empty field name".into());
        }
        let name = String::from_utf8_lossy(&b[start..*i]).into_owned();
        let sub = if *i < b.len() && b[*i] == b'(' {
            *i += 1;
            let m = mask(b, i, depth + 1)?;
            if *i >= b.len() || b[*i] != b')' {
                return Err("Invalid field selection: missing )".into());
            }
            *i += 1;
            Some(m)
        } else if *i < b.len() && b[*i] == b'/' {
            *i += 1;
            let mut j = *i;
            let m = single_path(b, &mut j, depth + 1)?;
            *i = j;
            Some(m)
        } else {
            None
        };
        out.push((name, sub));
        if *i < b.len() && b[*i] == b',' {
            *i += 1;
            continue;
        }
        return Ok(FieldMask(out));
    }
}

fn single_path(b: &[u8], i: &mut usize, depth: usize) -> Result<FieldMask, String> {
    if depth > 8 {
        return Err("field selection nested too deep".into());
    }
    let start = *i;
    while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] == b'*') {
        *i += 1;
    }
    if start == *i {
        return Err("Invalid field selection: empty path element".into());
    }
    let name = String::from_utf8_lossy(&b[start..*i]).into_owned();
    let sub = if *i < b.len() && b[*i] == b'/' {
        *i += 1;
        Some(single_path(b, i, depth + 1)?)
    } else {
        None
    };
    Ok(FieldMask(vec![(name, sub)]))
}

impl FieldMask {
    /// Whether `key` is selected at this level.
    pub fn selects(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key || k == "*")
    }

    /// Keeps only the selected members of `v` (arrays are filtered element-wise).
    /// Unknown keys select nothing, as in Google's APIs for absent fields.
    pub fn apply(&self, v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(|x| self.apply(x)).collect()),
            Value::Object(obj) => {
                let mut out = Map::new();
                for (k, sub) in &self.0 {
                    if k == "*" {
                        return v.clone();
                    }
                    if let Some(x) = obj.get(k) {
                        out.insert(k.clone(), sub.as_ref().map_or_else(|| x.clone(), |s| s.apply(x)));
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_nested_members_of_lists() {
        let m = parse("files(id,name),nextPageToken").unwrap();
        let v = json!({"kind": "drive#fileList", "nextPageToken": "t", "files": [{"id": "1", "name": "a", "mimeType": "x"}]});
        assert_eq!(m.apply(&v), json!({"nextPageToken": "t", "files": [{"id": "1", "name": "a"}]}));
        assert_eq!(parse("files/id").unwrap().apply(&v), json!({"files": [{"id": "1"}]}));
        assert_eq!(parse("*").unwrap().apply(&v), v);
    }

    #[test]
    fn refuses_malformed_masks() {
        for bad in ["", ",", "files(", "files(id", "a,,b", "a)", "files/", "a b"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
