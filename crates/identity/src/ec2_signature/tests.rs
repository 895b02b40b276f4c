//! Each signature version pinned to what keystoneclient's `Ec2Signer`
//! (the code Keystone runs) computes for the same request.

use super::*;
use serde_json::json;

const SECRET: &str = "c5ba7b1a5cc24a2c9b0e0a5ea0b1e7d4";
const EMPTY_BODY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const V4_AUTH: &str = "AWS4-HMAC-SHA256 Credential=ak/20261207/RegionOne/ec2/aws4_request, \
                       SignedHeaders=host;x-amz-date, Signature=x";

fn req(v: Value) -> SignedRequest {
    SignedRequest::from_json(v.as_object().unwrap_or_else(|| unreachable!()))
}

fn sign(v: Value) -> String {
    generate(SECRET, &req(v)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn version_0_signs_action_and_timestamp() {
    let params = json!({"SignatureVersion": "0", "Action": "DescribeInstances",
                        "Timestamp": "2026-12-07T21:00:00Z"});
    assert_eq!(
        sign(json!({ "params": params })),
        "asw+mNShn3BNRNphGbHpyhaLzoQ="
    );
}

#[test]
fn version_1_signs_parameters_in_case_insensitive_order() {
    let params = json!({"SignatureVersion": "1", "Action": "Describe", "b": "x y", "A": "1"});
    assert_eq!(
        sign(json!({ "params": params })),
        "MPLUNM1+vSw1255TsqgcyhJD+kg="
    );
}

#[test]
fn version_2_signs_with_sha256_whatever_method_is_named() {
    let r = json!({"host": "ec2.example.com:8773", "verb": "GET", "path": "/", "params": {
        "SignatureVersion": "2", "SignatureMethod": "HmacSHA1", "AWSAccessKeyId": "ak",
        "Action": "DescribeInstances", "Timestamp": "2026-12-07T21:00:00Z", "Name": "a b/é~"}});
    assert_eq!(sign(r), "LuUYkNO9O9eiX5mJH66XDa6PFb5W/cu3ke/qPWBLxmE=");
}

#[test]
fn version_2_matches_a_client_that_signed_without_the_port() {
    let with_port = json!({"host": "ec2.example.com:8773", "verb": "GET", "path": "/",
        "params": {"SignatureVersion": "2", "Action": "Describe"}});
    let mut bare = with_port.clone();
    bare["host"] = json!("ec2.example.com");
    let signature = sign(bare);
    assert_eq!(
        verify(SECRET, &req(with_port.clone()), &signature),
        Ok(true)
    );
    assert_eq!(verify("other", &req(with_port), &signature), Ok(false));
}

#[test]
fn version_4_from_the_authorization_header() {
    let r = json!({"host": "ec2.example.com", "verb": "GET", "path": "/path",
        "params": {"Action": "List", "Z": "1"},
        "headers": {"Host": "ec2.example.com:8773", "X-Amz-Date": "20261207T210000Z",
                    "Authorization": V4_AUTH},
        "body_hash": EMPTY_BODY});
    assert_eq!(
        sign(r),
        "769fb5604c85be06c366128dfeed3cbee23c7a5a11f98a6052c11d30a63d3c85"
    );
}

#[test]
fn version_4_post_leaves_the_query_out() {
    let r = json!({"host": "h", "verb": "POST", "path": "/", "params": {"Action": "List"},
        "headers": {"Host": "h", "X-Amz-Date": "20261207T210000Z", "Authorization": V4_AUTH},
        "body_hash": EMPTY_BODY});
    assert_eq!(
        sign(r),
        "349b4cf00ae2ec191865e8a0ee9d721b85a870121c56dacba0ddc89ecdf75e25"
    );
}

#[test]
fn version_4_from_query_parameters() {
    let r = json!({"host": "h", "verb": "GET", "path": "/", "params": {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": "ak/20261207/RegionOne/s3/aws4_request",
            "X-Amz-Date": "20261207T210000Z", "X-Amz-SignedHeaders": "host"},
        "headers": {"Host": "h"}, "body_hash": "UNSIGNED-PAYLOAD"});
    assert_eq!(
        sign(r),
        "f9d85705c134c903227d9c86060245f5baed8fc4882122c0d5a2c2835ee770f2"
    );
}

#[test]
fn version_4_old_boto_signs_host_without_port() {
    let r = json!({"host": "h", "verb": "GET", "path": "/", "params": {},
        "headers": {"Host": "h:8773", "User-Agent": "Boto/2.9.1 Python",
                    "X-Amz-Date": "20261207T210000Z", "Authorization": V4_AUTH},
        "body_hash": EMPTY_BODY});
    assert_eq!(
        sign(r),
        "52047a2c292c160f4aed35d5a0189fbc2b1b1de0e8dcde06e1b7e7357f670438"
    );
}

#[test]
fn version_4_date_must_be_the_scope_date() {
    let r = json!({"host": "h", "verb": "GET", "path": "/", "params": {},
        "headers": {"Host": "h", "X-Amz-Date": "20261208T000000Z", "Authorization": V4_AUTH},
        "body_hash": EMPTY_BODY});
    assert_eq!(generate(SECRET, &req(r)), Err(SignatureError::DateMismatch));
}

#[test]
fn no_version_is_refused() {
    let r = json!({"host": "h", "verb": "GET", "path": "/", "params": {"Action": "x"}});
    assert_eq!(
        generate(SECRET, &req(r)),
        Err(SignatureError::UnknownFormat)
    );
    let r = json!({"params": {"SignatureVersion": "3"}});
    assert_eq!(
        generate(SECRET, &req(r)),
        Err(SignatureError::UnknownVersion)
    );
}
