//! RFC 9497 test vectors (OPRF mode, ristretto255-SHA512, Appendix A.1.1)
//! and the protocol vector of SPEC.md.

use share_backup_realm_protocol::client::{self, Randomness};
use share_backup_realm_protocol::{Recovery, oprf, realm_evaluate};
use zeroize::Zeroizing;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

struct Rfc {
    input: &'static str,
    blinded: &'static str,
    evaluated: &'static str,
    output: &'static str,
}

const SK: &str = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e";
const BLIND: &str = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706";
const RFC_VECTORS: &[Rfc] = &[
    Rfc {
        input: "00",
        blinded: "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
        evaluated: "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
        output: "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    },
    Rfc {
        input: "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        blinded: "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
        evaluated: "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
        output: "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    },
];

#[test]
fn oprf_matches_the_rfc_9497_vectors() {
    let sk = oprf::decode_scalar(&h(SK)).unwrap();
    let blind = oprf::decode_scalar(&h(BLIND)).unwrap();
    for v in RFC_VECTORS {
        let input = h(v.input);
        let blinded = oprf::blind_with(&input, &blind).unwrap();
        assert_eq!(hex::encode(blinded.compress().as_bytes()), v.blinded);
        let evaluated = realm_evaluate(&h(SK), blinded.compress().as_bytes()).unwrap();
        assert_eq!(hex::encode(evaluated), v.evaluated);
        let out = oprf::finalize(&input, &blind, &oprf::decode_element(&evaluated).unwrap());
        assert_eq!(hex::encode(&out[..]), v.output);
        assert_eq!(hex::encode(&oprf::evaluate(&sk, &input).unwrap()[..]), v.output);
    }
}

#[test]
fn expand_message_xmd_sha512_matches_rfc_9380() {
    // RFC 9380 K.3, expand_message_xmd(SHA-512), DST QUUX-V01-CS02-with-expander-SHA512-256.
    let dst = b"QUUX-V01-CS02-with-expander-SHA512-256";
    let out = oprf::expand_message_xmd(&[b""], dst, 0x20).unwrap();
    assert_eq!(hex::encode(out), "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba");
    let out = oprf::expand_message_xmd(&[b"abc"], dst, 0x20).unwrap();
    assert_eq!(hex::encode(out), "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc");
}

/// The fixed randomness of SPEC.md's protocol vector.
fn spec_randomness() -> Randomness {
    let scalar = |b: u8| oprf::decode_scalar(&[&[b][..], &[0u8; 31][..]].concat()).unwrap();
    let share = |x: u8, fill: u8| Zeroizing::new([&[x][..], &[fill; 32][..]].concat());
    // Shamir over GF(2^8) with t = 2: y(x) = s + a*x per byte. With s = 0x11
    // and a = 0x01: y(1) = 0x10, y(2) = 0x13, y(3) = 0x12.
    let (u, s) = ([0x11u8; 32], [0x22u8; 32]);
    Randomness {
        oprf_keys: vec![scalar(1), scalar(2), scalar(3)],
        unlock_key: u,
        secret: s,
        unlock_shares: vec![share(1, 0x10), share(2, 0x13), share(3, 0x12)],
        // s = 0x22, a = 0x01: y(1) = 0x23, y(2) = 0x20, y(3) = 0x21.
        secret_shares: vec![share(1, 0x23), share(2, 0x20), share(3, 0x21)],
    }
}

#[test]
fn the_spec_protocol_vector_holds_and_recovers() {
    let realms: Vec<String> = ["realm-a", "realm-b", "realm-c"].map(String::from).to_vec();
    let reg = client::register_with(b"482916", "alice", [0xab; 16], &realms, 2, 10, &spec_randomness()).unwrap();
    let got = serde_json::json!({
        "access_key": hex::encode(&client::access_key(b"482916", "alice", &[0xab; 16])[..]),
        "masked_unlock_share_1": hex::encode(&reg.requests[0].masked_unlock_share.0),
        "unlock_tag_1": hex::encode(&reg.requests[0].unlock_tag.0),
        "encrypted_share_1": hex::encode(&reg.requests[0].encrypted_share.0),
        "header": hex::encode(reg.header.to_bytes()),
        "data_key": hex::encode(&client::data_key(&reg.secret[..], &[0xab; 16], "alice")[..]),
    });
    let want: serde_json::Value = serde_json::from_str(include_str!("../testdata/protocol-vector.json")).unwrap();
    if std::env::var_os("PRINT_VECTOR").is_some() {
        println!("{}", serde_json::to_string_pretty(&got).unwrap());
    }
    assert_eq!(got, want, "SPEC.md's protocol vector changed");

    // And the vector's registration recovers through realms b and c only.
    let (rec, p1) = Recovery::start(b"482916", "alice", reg.header.clone()).unwrap();
    let answers: Vec<_> = [1usize, 2]
        .iter()
        .map(|&i| {
            let r = &reg.requests[i];
            (
                i,
                share_backup_realm_protocol::Recover1Response {
                    share_index: r.share_index,
                    evaluated: realm_evaluate(&r.oprf_key.0, &p1[i].blinded.0).unwrap().to_vec().into(),
                    masked_unlock_share: r.masked_unlock_share.clone(),
                    guesses_left: 9,
                },
            )
        })
        .collect();
    let key = rec.unlock(&answers).unwrap();
    let p2 = rec.phase2(&key, &[1, 2]);
    for (i, req) in &p2 {
        assert_eq!(req.unlock_tag, reg.requests[*i].unlock_tag);
    }
    let shares: Vec<_> = [1usize, 2]
        .iter()
        .map(|&i| {
            (
                i,
                share_backup_realm_protocol::Recover2Response {
                    encrypted_share: reg.requests[i].encrypted_share.clone(),
                },
            )
        })
        .collect();
    let dk = rec.finish(&key, &shares).unwrap();
    assert_eq!(hex::encode(&dk[..]), want["data_key"].as_str().unwrap());
}
