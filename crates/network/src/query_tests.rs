//! Tests of the list mechanism over a small collection.

use super::*;

const THINGS: Collection = Collection {
    name: "things",
    singular_title: "Thing",
    attributes: &[
        text("id"),
        text("name"),
        boolean("shared"),
        int("mtu"),
        list("fixed_ips"),
        list("tags"),
    ],
};

fn pairs(q: &str) -> QueryPairs {
    QueryPairs(
        q.split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
    )
}

fn items() -> Vec<Value> {
    vec![
        json!({"id": "c", "name": "net1", "shared": false, "mtu": 1450, "tags": ["red"],
               "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.3"}]}),
        json!({"id": "a", "name": "net2", "shared": true, "mtu": 1500, "tags": ["red", "blue"],
               "fixed_ips": [{"subnet_id": "s2", "ip_address": "10.0.1.3"}]}),
        json!({"id": "b", "name": "net1", "shared": false, "mtu": 1500, "tags": [],
               "fixed_ips": []}),
    ]
}

fn ids(body: &Value) -> Vec<&str> {
    body["things"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

fn run(q: &str) -> Value {
    ListQuery::parse(&pairs(q), &THINGS)
        .unwrap()
        .render(items(), "http://h", "/v2.0/things")
        .unwrap()
}

#[test]
fn repeated_filters_match_any_value_and_default_order_is_id() {
    assert_eq!(ids(&run("name=net1&name=net2")), ["a", "b", "c"]);
    assert_eq!(ids(&run("name=net1")), ["b", "c"]);
    assert_eq!(
        ids(&run("name=")),
        ["a", "b", "c"],
        "empty values are dropped"
    );
}

#[test]
fn booleans_read_as_neutron_reads_them() {
    assert_eq!(ids(&run("shared=True")), ["a"]);
    assert_eq!(ids(&run("shared=0")), ["b", "c"]);
    let err = ListQuery::parse(&pairs("shared=maybe"), &THINGS).unwrap_err();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn unknown_filter_is_rejected() {
    let err = ListQuery::parse(&pairs("colour=red&size=1"), &THINGS).unwrap_err();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    match err.error {
        ferrostack_common::error::ServiceError::Shown { message, .. } => {
            assert_eq!(
                message,
                "['colour', 'size'] is invalid attribute for filtering"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn object_list_filters_by_key() {
    assert_eq!(ids(&run("fixed_ips=ip_address=10.0.0.3")), ["c"]);
    assert_eq!(
        ids(&run("fixed_ips=subnet_id=s2&fixed_ips=ip_address=10.0.0.3")),
        Vec::<&str>::new()
    );
}

#[test]
fn tag_filters() {
    assert_eq!(ids(&run("tags=red,blue")), ["a"]);
    assert_eq!(ids(&run("tags-any=blue,red")), ["a", "c"]);
    assert_eq!(ids(&run("not-tags=red,blue")), ["b", "c"]);
    assert_eq!(ids(&run("not-tags-any=red")), ["b"]);
}

#[test]
fn sorting_by_several_keys() {
    assert_eq!(
        ids(&run(
            "sort_key=mtu&sort_dir=desc&sort_key=name&sort_dir=asc"
        )),
        ["b", "a", "c"]
    );
    assert!(ListQuery::parse(&pairs("sort_key=mtu&sort_dir=up"), &THINGS).is_err());
    assert!(ListQuery::parse(&pairs("sort_key=x"), &THINGS).is_err());
    assert!(ListQuery::parse(&pairs("sort_key=mtu&sort_key=id&sort_dir=asc"), &THINGS).is_err());
}

#[test]
fn fields_project_without_id() {
    let body = run("fields=name&fields=mtu");
    assert_eq!(body["things"][0], json!({"name": "net2", "mtu": 1500}));
}

#[test]
fn paging_forward_and_back_with_neutrons_links() {
    let links = |body: &Value| -> Vec<(String, String)> {
        body["things_links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["rel"].as_str().unwrap().to_string(),
                    l["href"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let first = run("limit=2");
    assert_eq!(ids(&first), ["a", "b"]);
    assert_eq!(
        links(&first),
        [
            (
                "next".into(),
                "http://h/v2.0/things?limit=2&marker=b".into()
            ),
            (
                "previous".into(),
                "http://h/v2.0/things?limit=2&marker=a&page_reverse=True".into()
            ),
        ]
    );

    let second = run("limit=2&marker=b");
    assert_eq!(ids(&second), ["c"]);
    assert_eq!(
        links(&second),
        [(
            "previous".into(),
            "http://h/v2.0/things?limit=2&marker=c&page_reverse=True".into()
        )],
        "a short forward page has no next"
    );

    let back = run("limit=2&marker=c&page_reverse=True");
    assert_eq!(ids(&back), ["a", "b"]);
    assert_eq!(links(&back).len(), 2);
    let back = run("limit=2&marker=b&page_reverse=true");
    assert_eq!(ids(&back), ["a"]);
    assert_eq!(
        links(&back),
        [(
            "next".into(),
            "http://h/v2.0/things?limit=2&marker=a".into()
        )],
        "a short reversed page has no previous"
    );

    assert!(run("limit=0").get("things_links").is_none());
    assert_eq!(ids(&run("page_reverse=yes&limit=5")), ["a", "b", "c"]);
    let err = ListQuery::parse(&pairs("marker=zz"), &THINGS)
        .unwrap()
        .render(items(), "", "")
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::NOT_FOUND);
    let err = ListQuery::parse(&pairs("limit=-1"), &THINGS).unwrap_err();
    assert_eq!(err.kind, "BadRequest");
}
