//! The dashboard's server side without a browser: the router in process,
//! its APIs pointed at a closed port (nothing here needs a cloud).

#![allow(clippy::unwrap_used, missing_docs)]

use axum::body::Body;
use axum::response::Response;
use chrono::{Duration, Utc};
use ferrostack_dashboard::api_client::{ApiClient, BaseUrls};
use ferrostack_dashboard::layout::{self, Ctx, Nav};
use ferrostack_dashboard::session::{Auth, ProjectRef, Sessions};
use ferrostack_dashboard::{router_with_state, AppState};
use http::{header, Request, StatusCode};
use std::sync::Arc;
use tower::ServiceExt;

/// Nothing listens on port 1: every API call fails fast.
const NOWHERE: &str = "http://127.0.0.1:1";

fn state(tls: bool) -> AppState {
    AppState {
        api: Arc::new(ApiClient::new(&BaseUrls {
            identity: NOWHERE.into(),
            compute: NOWHERE.into(),
            image: NOWHERE.into(),
            network: NOWHERE.into(),
            volume: NOWHERE.into(),
        })),
        sessions: Arc::new(Sessions::default()),
        tls,
    }
}

async fn call(state: &AppState, req: Request<Body>) -> Response {
    router_with_state(state.clone()).oneshot(req).await.unwrap()
}

async fn text(r: Response) -> String {
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn cookie_of(r: &Response) -> String {
    r.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string()
}

/// GET /login: the pre-login cookie (name=value) and the form's token.
async fn login_form(state: &AppState) -> (String, String) {
    let r = call(state, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = cookie_of(&r).split(';').next().unwrap().to_string();
    let html = text(r).await;
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (cookie, csrf)
}

fn post_form(path: &str, cookie: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn session_cookie_is_httponly_strict_and_opaque() {
    let r = call(
        &state(false),
        Request::get("/login").body(Body::empty()).unwrap(),
    )
    .await;
    let cookie = cookie_of(&r);
    assert!(cookie.starts_with("fs_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"));
    let value = cookie.split(';').next().unwrap().split('=').nth(1).unwrap();
    assert_eq!(value.len(), 64);
}

#[tokio::test]
async fn under_tls_the_cookie_is_secure_with_the_host_prefix() {
    let r = call(
        &state(true),
        Request::get("/login").body(Body::empty()).unwrap(),
    )
    .await;
    let cookie = cookie_of(&r);
    assert!(cookie.starts_with("__Host-fs_session="));
    assert!(cookie.contains("; Secure"));
}

#[tokio::test]
async fn login_post_without_the_csrf_token_is_refused() {
    let s = state(false);
    let (cookie, _) = login_form(&s).await;
    let r = call(
        &s,
        post_form("/login", &cookie, "username=admin&password=x"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let wrong = call(
        &s,
        post_form("/login", &cookie, "csrf=abc&username=a&password=x"),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let no_session = call(&s, post_form("/login", "", "username=a&password=x")).await;
    assert_eq!(no_session.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_token_from_another_session_is_refused() {
    let s = state(false);
    let (cookie, _) = login_form(&s).await;
    let (_, other_csrf) = login_form(&s).await;
    let body = format!("csrf={other_csrf}&username=a&password=x");
    let r = call(&s, post_form("/login", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_the_token_the_login_reaches_the_api_and_echoes_the_name_escaped() {
    let s = state(false);
    let (cookie, csrf) = login_form(&s).await;
    let body = format!(
        "csrf={csrf}&username=%3Cscript%3Ealert(1)%3C%2Fscript%3E&password=pw&domain=Default"
    );
    let r = call(&s, post_form("/login", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = text(r).await;
    assert!(html.contains("The service could not be reached."));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("pw\""), "the password is never echoed");
}

#[tokio::test]
async fn pages_need_a_login_and_state_changes_need_a_token() {
    let s = state(false);
    let r = call(&s, Request::get("/instances").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/login");
    let auth = auth("demo");
    let session = s.sessions.create_authenticated(auth);
    let cookie = format!("fs_session={}", session.id);
    let r = call(&s, post_form("/instances/x/delete", &cookie, "")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // JSON/XHR requests carry the token in a header instead.
    let upload = Request::put("/images/x/file")
        .header(header::COOKIE, &cookie)
        .header("X-CSRF-Token", "wrong")
        .body(Body::from("data"))
        .unwrap();
    assert_eq!(call(&s, upload).await.status(), StatusCode::FORBIDDEN);
    // The right token passes the guard (the API behind is unreachable).
    let body = format!("csrf={}", session.csrf);
    let r = call(&s, post_form("/instances/x/delete", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/instances");
}

fn auth(project: &str) -> Auth {
    let p = ProjectRef {
        id: "p1".into(),
        name: project.into(),
    };
    Auth {
        token: "t".into(),
        unscoped_token: "u".into(),
        user_id: "u1".into(),
        user_name: "<img src=x onerror=alert(1)>".into(),
        project: p.clone(),
        projects: vec![p],
        roles: vec!["member".into()],
        expires_at: Utc::now() + Duration::hours(1),
    }
}

#[tokio::test]
async fn user_controlled_names_are_escaped_in_pages() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("<b>evil</b>\"'"));
    let ctx = Ctx {
        auth: session.auth.clone().unwrap(),
        session,
    };
    let content = layout::post_button(&ctx, "/x", "Delete", Some("Delete <i>vm</i>?"));
    let r = layout::page(&s, &ctx, "Instance <svg>", Nav::Instances, content);
    let html = text(r).await;
    assert!(html.contains("&lt;b&gt;evil&lt;/b&gt;&quot;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("Instance &lt;svg&gt;"));
    assert!(html.contains("Delete &lt;i&gt;vm&lt;/i&gt;?"));
    assert!(!html.contains("<b>evil") && !html.contains("<img") && !html.contains("<svg"));
}

#[tokio::test]
async fn logout_drops_the_session_and_clears_the_cookie() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let cookie = format!("fs_session={}", session.id);
    let body = format!("csrf={}", session.csrf);
    let r = call(&s, post_form("/logout", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(cookie_of(&r).contains("Max-Age=0"));
    assert!(s.sessions.get(&session.id).is_none());
}

#[tokio::test]
async fn a_non_number_in_a_flavor_field_is_named_on_the_flavors_page() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let cookie = format!("fs_session={}", session.id);
    let body = format!("csrf={}&name=m1.x&vcpus=two&ram=512&disk=1", session.csrf);
    let r = call(&s, post_form("/flavors", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/flavors");
    // Refused before any API call (the API here is unreachable).
    let flash = s.sessions.take_flash(&session.id).unwrap();
    assert!(flash.error);
    assert_eq!(flash.text, "vCPUs must be a whole number of at least 1.");
}

#[tokio::test]
async fn a_malformed_form_gets_a_dashboard_page_not_a_plain_422() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let cookie = format!("fs_session={}", session.id);
    // The project form without its name field.
    let body = format!("csrf={}&description=x", session.csrf);
    let r = call(&s, post_form("/identity/projects", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = text(r).await;
    assert!(html.contains("<h1>The form could not be read</h1>"));
    assert!(html.contains("missing field `name`"));
    assert!(html.contains("Signed in as"), "the page keeps its frame");
    // The script's JSON requests get JSON.
    let req = Request::post("/images")
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT, "application/json")
        .header("X-CSRF-Token", &session.csrf)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("bogus=1"))
        .unwrap();
    let r = call(&s, req).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(text(r)
        .await
        .contains("\"error\":\"The form was incomplete"));
}

#[tokio::test]
async fn a_volume_size_that_is_not_a_number_is_refused_before_cinder() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let cookie = format!("fs_session={}", session.id);
    let body = format!("csrf={}&name=v&source=blank&size=big", session.csrf);
    let r = call(&s, post_form("/volumes", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/volumes");
    let flash = s.sessions.take_flash(&session.id).unwrap();
    assert!(flash.error);
    assert_eq!(
        flash.text,
        "Size (GB) must be a whole number of at least 1."
    );
    // An unreachable Cinder is a flash too, never a half-made page.
    let body = format!("csrf={}&new_size=3", session.csrf);
    let r = call(&s, post_form("/volumes/v1/extend", &cookie, &body)).await;
    assert_eq!(r.headers()[header::LOCATION], "/volumes");
    let flash = s.sessions.take_flash(&session.id).unwrap();
    assert!(flash.error);
    assert_eq!(flash.text, "The service could not be reached.");
}

#[tokio::test]
async fn the_navigation_links_the_storage_pages() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let ctx = Ctx {
        auth: session.auth.clone().unwrap(),
        session,
    };
    let r = layout::page(&s, &ctx, "Volumes", Nav::Volumes, maud::html! {});
    let html = text(r).await;
    assert!(html.contains(r#"<a href="/volumes" aria-current="page">Volumes</a>"#));
    assert!(html.contains(r#"<a href="/volume-snapshots">Volume snapshots</a>"#));
    assert!(html.contains(r#"<a href="/volume-backups">Backups</a>"#));
}

#[tokio::test]
async fn the_navigation_links_the_network_pages() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let ctx = Ctx {
        auth: session.auth.clone().unwrap(),
        session,
    };
    let r = layout::page(&s, &ctx, "Routers", Nav::Routers, maud::html! {});
    let html = text(r).await;
    assert!(html.contains(r#"<a href="/routers" aria-current="page">Routers</a>"#));
    assert!(html.contains(r#"<a href="/floating-ips">Floating IPs</a>"#));
    assert!(html.contains(r#"<a href="/topology">Network topology</a>"#));
}

#[tokio::test]
async fn an_association_without_an_address_is_refused_before_neutron() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let cookie = format!("fs_session={}", session.id);
    // Without the token the router forms are refused like every other.
    let r = call(
        &s,
        post_form("/routers/x/routes", &cookie, "destination=a&nexthop=b"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = format!("csrf={}&target=", session.csrf);
    let r = call(&s, post_form("/floating-ips/x/associate", &cookie, &body)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/floating-ips");
    let flash = s.sessions.take_flash(&session.id).unwrap();
    assert!(flash.error);
    assert_eq!(flash.text, "Choose an instance address to associate with.");
}

#[tokio::test]
async fn the_topology_without_the_network_service_says_why() {
    let s = state(false);
    let session = s.sessions.create_authenticated(auth("demo"));
    let cookie = format!("fs_session={}", session.id);
    let req = Request::get("/topology")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let r = call(&s, req).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = text(r).await;
    assert!(html.contains("The service could not be reached."));
    assert!(!html.contains("<svg"));
}
