//! The claim rules and attribute sorting read a payload in place exactly as they read the
//! parsed map, on generated payloads with awkward claims: escaped names equal to reserved ones,
//! numbers of every shape as dates and ids, wrong types, nesting.

use super::*;
use crate::attributes::{AttributeDef, AttributeType};
use crate::claims::check_claims;
use crate::json::parse_strict_object;
use crate::profile::TokenProfile;
use crate::testutil::{jwt_request, policy, raw_token, Rng, NOW, SECRET};

/// Claim names: registered, profile and attribute names, some spelled with escapes.
const NAMES: [&str; 17] = [
    "user_id",
    "\\u0075ser_id",
    "sub",
    "userId",
    "email",
    "exp",
    "nbf",
    "\\u0069at",
    "iss",
    "tokenType",
    "plan",
    "seats",
    "beta",
    "signed_up",
    "name",
    "\\u00e9t\\u00e9",
    "unregistered",
];

/// Claim values of every JSON type, numbers in many spellings and ranges.
const VALUES: [&str; 30] = [
    "\"u-1\"",
    "\"\"",
    "\"a\\u0001b\"",
    "\"\\u0075\"",
    "\"user\"",
    "\"app_test\"",
    "\"2024-05-06T07:08:09Z\"",
    "\"pro\"",
    "1700000000",
    "1700003600",
    "1699999000",
    "1700000000.5",
    "1.7e9",
    "-0",
    "0",
    "-12",
    "18446744073709551616",
    "1e300",
    "1700086400",
    "42",
    "true",
    "false",
    "null",
    "[]",
    "[1,\"x\"]",
    "{}",
    "{\"id\":\"u\"}",
    "\"x\\\"y\"",
    "\"snow \u{2603}\"",
    "3.25",
];

/// A payload of up to eight distinct-enough claims (duplicates get refused by both readers).
fn payload(rng: &mut Rng) -> String {
    let members: Vec<String> =
        (0..1 + rng.below(8)).map(|_| format!("\"{}\":{}", rng.pick(&NAMES), rng.pick(&VALUES))).collect();
    format!("{{{}}}", members.join(","))
}

/// Policies that exercise every claim rule: each profile, required exp, a lifetime limit, an
/// explicit issuer, and attributes of each type.
fn policies() -> Vec<WorkspacePolicy> {
    let def = |name: &str, kind, secure_only| AttributeDef { name: name.into(), kind, secure_only };
    let mut base = policy();
    base.attributes = vec![
        def("plan", AttributeType::String, true),
        def("seats", AttributeType::Number, false),
        def("beta", AttributeType::Boolean, false),
        def("signed_up", AttributeType::Datetime, false),
        def("email", AttributeType::String, false),
        def("name", AttributeType::String, true),
    ];
    let mut policies = Vec::new();
    for profile in TokenProfile::ALL {
        let mut p = base.clone();
        p.token_profile = profile;
        p.user_id_claims = vec!["userId".into(), "été".into()];
        policies.push(p.clone());
        p.require_exp = true;
        p.max_token_lifetime_seconds = Some(3600);
        p.expected_issuer = Some("u-1".into());
        p.leeway_seconds = 0;
        policies.push(p);
    }
    policies
}

/// What the attribute sorter made of some claims: accepted, rejected (`name:reason`), ignored,
/// unsigned, notes.
type Sorted = (Map<String, Value>, Vec<String>, Vec<String>, Vec<String>, Vec<String>);

/// The attribute sorter's results for `claims` (name order), as the verdict carries them.
fn sorted<V: crate::attributes::AttributeValue>(
    p: &WorkspacePolicy,
    claims: impl Iterator<Item = (String, V)>,
) -> Sorted {
    let mut sorter = AttributeSorter::default();
    for (name, value) in claims {
        if !p.token_profile.reserves(&name, &p.user_id_claims) {
            sorter.add(&p.attributes, Cow::Owned(name), value, true, "the signed token");
        }
    }
    let rejected = sorter.rejected.iter().map(|r| format!("{}:{}", r.name, r.reason)).collect();
    (sorter.accepted, rejected, sorter.ignored, sorter.unsigned, sorter.notes)
}

/// Claim checks (result and trace) and attribute sorting agree between the parsed map and the
/// payload read in place, for every policy.
#[test]
fn claims_read_in_place_as_parsed() {
    let mut rng = Rng(0x243f_6a88_85a3_08d3);
    let policies = policies();
    let mut compared = 0;
    for _ in 0..3_000 {
        let text = payload(&mut rng);
        let (Ok(map), Ok(raw)) = (parse_strict_object(text.as_bytes()), RawObject::scan(text.as_bytes()).ok_or(()))
        else {
            assert!(parse_strict_object(text.as_bytes()).is_err() && RawObject::scan(text.as_bytes()).is_none());
            continue;
        };
        for p in &policies {
            let (mut parsed_trace, mut raw_trace) = (Trace::recording(), Trace::recording());
            let parsed = check_claims(&map, p, NOW, &mut parsed_trace);
            let in_place = check_claims(&raw, p, NOW, &mut raw_trace);
            assert_eq!(parsed, in_place, "{text} {:?}", p.token_profile);
            assert_eq!(parsed_trace.into_parts(), raw_trace.into_parts(), "{text}");
            let from_map = sorted(p, map.iter().map(|(name, value)| (name.clone(), Cow::Borrowed(value))));
            let from_raw = sorted(p, raw.iter().map(|(name, value)| (name.to_string(), value)));
            assert_eq!(from_map, from_raw, "{text}");
            compared += 1;
        }
    }
    assert!(compared > 10_000, "too few valid payloads: {compared}");
}

/// Signed tokens with generated payloads: the debugger's payload is the parsed map, and the
/// verdict's attributes are the map's registered claims of the right type.
#[test]
fn verified_payload_is_the_parsed_one() {
    let mut rng = Rng(0x1319_8a2e_0370_7344);
    let p = &policies()[0];
    for _ in 0..500 {
        let text = payload(&mut rng);
        let jwt = raw_token(r#"{"alg":"HS256","kid":"k_primary"}"#, &text, SECRET);
        let v = crate::testutil::run_traced(&jwt_request(&jwt), p);
        let parsed = parse_strict_object(text.as_bytes()).ok().map(Value::Object);
        assert_eq!(v.payload, parsed, "{text}");
        for (name, value) in &v.attributes {
            assert_eq!(v.payload.as_ref().and_then(|claims| claims.get(name)), Some(value), "{text}");
        }
    }
}
