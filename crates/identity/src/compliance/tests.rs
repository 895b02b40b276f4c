use super::*;
use ferrostack_store::identity::User;

fn user() -> User {
    User {
        id: "u1".into(),
        name: "alice".into(),
        domain_id: "default".into(),
        enabled: true,
        password_hash: None,
        default_project_id: None,
        description: String::new(),
        email: None,
        extra: Map::new(),
        password_changed_at: None,
        security: Default::default(),
    }
}

#[test]
fn the_regex_is_anchored_at_the_start_and_allows_lookahead() {
    let policy = SecurityCompliance {
        password_regex: Some(
            SecurityCompliance::compile_regex(r"^(?=.*\d)(?=.*[a-zA-Z]).{7,}$").unwrap(),
        ),
        password_regex_description: Some("7 characters, a letter and a digit".into()),
        ..Default::default()
    };
    assert!(policy.validate_new_password("abcdef1").is_ok());
    let err = policy.validate_new_password("abcdefg").unwrap_err();
    assert!(matches!(&err, IdentityError::BadRequest(m)
        if m == "The password does not meet the requirements: 7 characters, a letter and a digit."));
    // re.match: "b" must be at the start, not anywhere.
    let start = SecurityCompliance {
        password_regex: Some(SecurityCompliance::compile_regex("b").unwrap()),
        ..Default::default()
    };
    assert!(start.validate_new_password("ba").is_ok());
    assert!(start.validate_new_password("ab").is_err());
}

#[test]
fn the_history_keeps_hashes_only_as_far_back_as_the_policy_looks() {
    let policy = SecurityCompliance {
        unique_last_password_count: 3,
        ..Default::default()
    };
    let mut u = user();
    for (i, pw) in ["one", "two", "three", "four"].iter().enumerate() {
        policy.set_password(&mut u, password::hash(pw).unwrap(), true, i as i64);
    }
    // Current ("four") and the two before it; never the plaintext.
    assert_eq!(u.security.password_history.len(), 2);
    assert!(u
        .security
        .password_history
        .iter()
        .all(|h| h.starts_with("$argon2id$")));
    for reused in ["four", "three", "two"] {
        let err = policy.check_history(&u, reused).unwrap_err();
        assert!(matches!(err, IdentityError::BadRequest(m) if m.contains("is 3.")));
    }
    assert!(policy.check_history(&u, "one").is_ok());
    // No history policy: nothing kept, nothing refused.
    let none = SecurityCompliance::default();
    none.set_password(&mut u, password::hash("five").unwrap(), true, 9);
    assert!(u.security.password_history.is_empty());
    assert!(none.check_history(&u, "five").is_ok());
}

#[test]
fn expiry_follows_the_policy_and_the_user_options() {
    let policy = SecurityCompliance {
        password_expires_days: Some(2),
        change_password_upon_first_use: true,
        ..Default::default()
    };
    let mut u = user();
    // An administrator's password must be changed at once.
    policy.set_password(&mut u, "h1".into(), false, 1_000);
    assert_eq!(u.security.password_expires_at, Some(1_000));
    assert!(SecurityCompliance::password_expired(&u, 1_000));
    // The user's own lasts the configured days.
    policy.set_password(&mut u, "h2".into(), true, 1_000);
    assert_eq!(
        u.security.password_expires_at,
        Some(1_000 + 2 * MICROS_PER_DAY)
    );
    assert!(!SecurityCompliance::password_expired(
        &u,
        1_000 + MICROS_PER_DAY
    ));
    assert!(SecurityCompliance::password_expired(
        &u,
        1_000 + 2 * MICROS_PER_DAY
    ));
    // Exempt users.
    merge_options(
        &mut u.security.options,
        serde_json::from_value(serde_json::json!({
            "ignore_change_password_upon_first_use": true,
            "ignore_password_expiry": true
        }))
        .unwrap(),
    )
    .unwrap();
    policy.set_password(&mut u, "h3".into(), false, 5_000);
    assert_eq!(u.security.password_expires_at, None);
}

#[test]
fn the_minimum_age_binds_only_self_chosen_passwords() {
    let policy = SecurityCompliance {
        minimum_password_age: 1,
        ..Default::default()
    };
    let mut u = user();
    policy.set_password(&mut u, "h".into(), false, 0);
    assert!(policy.check_minimum_age(&u, 1).is_ok());
    policy.set_password(&mut u, "h2".into(), true, 0);
    let err = policy
        .check_minimum_age(&u, MICROS_PER_DAY / 2)
        .unwrap_err();
    assert!(matches!(err, IdentityError::BadRequest(m) if m.contains("used for 1 day(s)")));
    assert!(policy.check_minimum_age(&u, MICROS_PER_DAY).is_ok());
}

#[test]
fn options_are_checked_and_null_removes_one() {
    let mut opts = Map::new();
    let set = |v: serde_json::Value| serde_json::from_value::<Map<String, Value>>(v).unwrap();
    merge_options(&mut opts, set(serde_json::json!({"lock_password": true}))).unwrap();
    assert_eq!(opts.get("lock_password"), Some(&Value::Bool(true)));
    assert!(merge_options(&mut opts, set(serde_json::json!({"no_such": true}))).is_err());
    assert!(merge_options(&mut opts, set(serde_json::json!({"lock_password": "yes"}))).is_err());
    merge_options(&mut opts, set(serde_json::json!({"lock_password": null}))).unwrap();
    assert!(opts.is_empty());
}
