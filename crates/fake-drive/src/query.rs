//! The subset of Drive's search-query language (`q`) that the fake
//! understands: terms joined by `and`.
//!
//! ```text
//! query  = term *( "and" term )
//! term   = "name" ("=" | "!=" | "contains") string
//!        | "mimeType" ("=" | "!=") string
//!        | "trashed" ("=" | "!=") ("true" | "false")
//!        | string "in" "parents"
//!        | "(" query ")"
//! string = "'" *( char | "\'" | "\\" ) "'"
//! ```
//!
//! Keywords are case-sensitive as in Drive (`and` is also accepted as `AND`).
//! Anything else (including `or` and `not`, which Drive has but the fake does
//! not) is refused as Drive refuses an invalid query: 400 `invalid` on `q`.

use std::fmt;

/// One parsed condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// `name = '...'` (`negate` for `!=`).
    NameEq {
        /// The name.
        value: String,
        /// `!=`.
        negate: bool,
    },
    /// `name contains '...'` (prefix match in Drive: the fake does a substring test).
    NameContains(String),
    /// `mimeType = '...'` (`negate` for `!=`).
    MimeTypeEq {
        /// The type.
        value: String,
        /// `!=`.
        negate: bool,
    },
    /// `trashed = true|false`.
    Trashed(bool),
    /// `'<id>' in parents`.
    InParents(String),
}

/// A parsed query: every term must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The terms, all of which must match.
    pub terms: Vec<Term>,
}

/// Why a query was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Op(&'static str),
    Open,
    Close,
}

fn lex(q: &str) -> Result<Vec<Tok>, QueryError> {
    let mut out = Vec::new();
    let mut it = q.chars().peekable();
    while let Some(&c) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' => {
                it.next();
                out.push(Tok::Open);
            }
            ')' => {
                it.next();
                out.push(Tok::Close);
            }
            '=' => {
                it.next();
                out.push(Tok::Op("="));
            }
            '!' => {
                it.next();
                if it.next() != Some('=') {
                    return Err(QueryError("expected != ".into()));
                }
                out.push(Tok::Op("!="));
            }
            '\'' => {
                it.next();
                let mut s = String::new();
                loop {
                    match it.next() {
                        None => return Err(QueryError("unterminated string literal".into())),
                        Some('\'') => break,
                        Some('\\') => match it.next() {
                            Some(e @ ('\'' | '\\')) => s.push(e),
                            _ => return Err(QueryError("invalid escape in string literal".into())),
                        },
                        Some(ch) => s.push(ch),
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_alphabetic() => {
                let mut w = String::new();
                while let Some(&ch) = it.peek() {
                    if ch.is_ascii_alphanumeric() {
                        w.push(ch);
                        it.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Word(w));
            }
            other => return Err(QueryError(format!("unexpected character {other:?}"))),
        }
        if out.len() > 256 {
            return Err(QueryError("query too long".into()));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }
    fn query(&mut self, out: &mut Vec<Term>) -> Result<(), QueryError> {
        self.term(out)?;
        while let Some(Tok::Word(w)) = self.peek() {
            if w == "and" || w == "AND" {
                self.i += 1;
                self.term(out)?;
            } else {
                return Err(QueryError(format!("unsupported operator {w:?}")));
            }
        }
        Ok(())
    }
    fn string(&mut self) -> Result<String, QueryError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => Err(QueryError("expected a quoted string".into())),
        }
    }
    fn eq_op(&mut self) -> Result<bool, QueryError> {
        match self.next() {
            Some(Tok::Op("=")) => Ok(false),
            Some(Tok::Op("!=")) => Ok(true),
            _ => Err(QueryError("expected = or !=".into())),
        }
    }
    fn term(&mut self, out: &mut Vec<Term>) -> Result<(), QueryError> {
        match self.next() {
            Some(Tok::Open) => {
                self.depth += 1;
                if self.depth > 8 {
                    return Err(QueryError("parentheses nested too deep".into()));
                }
                self.query(out)?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::Close) => Ok(()),
                    _ => Err(QueryError("expected )".into())),
                }
            }
            Some(Tok::Word(w)) if w == "name" => {
                if let Some(Tok::Word(c)) = self.peek()
                    && c == "contains"
                {
                    self.i += 1;
                    out.push(Term::NameContains(self.string()?));
                    return Ok(());
                }
                let negate = self.eq_op()?;
                out.push(Term::NameEq { value: self.string()?, negate });
                Ok(())
            }
            Some(Tok::Word(w)) if w == "mimeType" => {
                let negate = self.eq_op()?;
                out.push(Term::MimeTypeEq { value: self.string()?, negate });
                Ok(())
            }
            Some(Tok::Word(w)) if w == "trashed" => {
                let negate = self.eq_op()?;
                let v = match self.next() {
                    Some(Tok::Word(b)) if b == "true" => true,
                    Some(Tok::Word(b)) if b == "false" => false,
                    _ => return Err(QueryError("trashed compares with true or false".into())),
                };
                out.push(Term::Trashed(v != negate));
                Ok(())
            }
            Some(Tok::Str(id)) => {
                match (self.next(), self.next()) {
                    (Some(Tok::Word(a)), Some(Tok::Word(b))) if a == "in" && b == "parents" => {}
                    _ => return Err(QueryError("expected '<id>' in parents".into())),
                }
                out.push(Term::InParents(id));
                Ok(())
            }
            Some(t) => Err(QueryError(format!("unsupported query term {t:?}"))),
            None => Err(QueryError("query ends where a term was expected".into())),
        }
    }
}

/// Parses a `q` parameter.
///
/// # Errors
/// On anything outside the grammar above; never panics.
pub fn parse(q: &str) -> Result<Query, QueryError> {
    if q.len() > 4096 {
        return Err(QueryError("query too long".into()));
    }
    let toks = lex(q)?;
    if toks.is_empty() {
        return Ok(Query::default());
    }
    let mut p = Parser { toks, i: 0, depth: 0 };
    let mut terms = Vec::new();
    p.query(&mut terms)?;
    if p.i < p.toks.len() {
        return Err(QueryError("unexpected text after the query".into()));
    }
    Ok(Query { terms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_terms_the_provider_sends() {
        let q = parse(
            r"name = 'sb-1.key' and 'appDataFolder' in parents and trashed = false and mimeType != 'application/vnd.google-apps.folder'",
        )
        .unwrap();
        assert_eq!(
            q.terms,
            vec![
                Term::NameEq { value: "sb-1.key".into(), negate: false },
                Term::InParents("appDataFolder".into()),
                Term::Trashed(false),
                Term::MimeTypeEq { value: "application/vnd.google-apps.folder".into(), negate: true },
            ]
        );
    }

    #[test]
    fn string_escapes_follow_drive() {
        let q = parse(r"name = 'it\'s a \\ folder'").unwrap();
        assert_eq!(q.terms, vec![Term::NameEq { value: r"it's a \ folder".into(), negate: false }]);
        assert_eq!(parse("(trashed != true)").unwrap().terms, vec![Term::Trashed(false)]);
        assert!(parse("").unwrap().terms.is_empty());
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            "name = ",
            "name == 'x'",
            "name = 'x' or name = 'y'",
            "name = 'unterminated",
            r"name = 'bad \q escape'",
            "trashed = maybe",
            "'x' in children",
            "size > 3",
            "(name = 'x'",
            "name = 'x')",
            "name = 'x' and",
            "!",
            "((((((((((name = 'x'))))))))))",
            "name = 'x' 'y'",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn never_panics_on_arbitrary_prefixes() {
        let q = r"(name = 'a\'b' and 'root' in parents) and trashed = false and mimeType = 'x'";
        for i in 0..=q.len() {
            if q.is_char_boundary(i) {
                let _ = parse(&q[..i]);
            }
        }
    }
}
