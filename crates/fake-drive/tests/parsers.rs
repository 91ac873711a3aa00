//! The fake's parsers on arbitrary input: an answer or an error, never a panic.

use proptest::prelude::*;
use share_backup_fake_drive::{fields, multipart, query};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn query_parsing_never_panics(q in "[ a-zA-Z0-9='!()\\\\,.-]{0,80}") {
        let _ = query::parse(&q);
    }

    #[test]
    fn query_parsing_never_panics_on_any_text(q in any::<String>()) {
        let _ = query::parse(&q);
    }

    #[test]
    fn name_literals_round_trip_through_escaping(name in any::<String>()) {
        let escaped = name.replace('\\', "\\\\").replace('\'', "\\'");
        let q = query::parse(&format!("name = '{escaped}' and trashed = false")).unwrap();
        prop_assert_eq!(
            q.terms,
            vec![query::Term::NameEq { value: name, negate: false }, query::Term::Trashed(false)]
        );
    }

    #[test]
    fn field_masks_never_panic(m in "[a-z(),/*]{0,40}") {
        if let Ok(mask) = fields::parse(&m) {
            let _ = mask.apply(&serde_json::json!({"a": [{"b": 1}], "files": {"id": "x"}}));
        }
    }

    #[test]
    fn multipart_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = multipart::parse(&body, "b");
    }

    #[test]
    fn multipart_parts_round_trip(meta in "[ -~]{0,40}", media in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Media that contains the delimiter cannot be framed with this boundary.
        let delimiter = b"\r\n--sb-boundary";
        prop_assume!(!media.windows(delimiter.len()).any(|w| w == delimiter));
        let mut body = b"--sb-boundary\r\nContent-Type: application/json\r\n\r\n".to_vec();
        body.extend_from_slice(meta.as_bytes());
        body.extend_from_slice(b"\r\n--sb-boundary\r\nContent-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(&media);
        body.extend_from_slice(b"\r\n--sb-boundary--");
        let parts = multipart::parse(&body, "sb-boundary").unwrap();
        prop_assert_eq!(parts.len(), 2);
        prop_assert_eq!(&parts[0].body, meta.as_bytes());
        prop_assert_eq!(&parts[1].body, &media);
    }

    #[test]
    fn content_types_never_panic(ct in any::<String>()) {
        let _ = multipart::boundary(&ct);
    }
}
