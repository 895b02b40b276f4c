//! The guests' side of metadata: an HTTP server on 169.254.169.254:80 in
//! each network's DHCP namespace that finds the asking instance and
//! forwards to the controller ([`MetadataSource`]).
//!
//! The instance is found only from what the host knows: the network the
//! request arrived on (one listener per network) and its source address,
//! looked up among the ports of the host's desired document. Nothing the
//! guest sends (headers, paths) names an instance. A guest cannot use
//! another's address: the port rules drop frames whose source MAC or IP
//! is not the port's own (anti-spoofing on every host), so the source
//! address is as good as the port's MAC and IP together. An address
//! with no port answers 404, as Nova answers an unknown instance.
//!
//! The listener is handed in already bound (inside the namespace, by the
//! host-network driver), so this module needs no privileges of its own.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ferrostack_host_contract::metadata::{valid_path, MetadataSource};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::task::JoinHandle;

/// Which instance owns each address of one network.
pub type AddressBook = HashMap<IpAddr, String>;

/// The metadata servers of one host, one per network.
pub struct MetadataProxy {
    host: String,
    source: Arc<dyn MetadataSource>,
    books: Arc<Mutex<HashMap<String, AddressBook>>>,
    servers: Mutex<HashMap<String, JoinHandle<()>>>,
}

#[derive(Clone)]
struct Served {
    host: Arc<str>,
    network: Arc<str>,
    source: Arc<dyn MetadataSource>,
    books: Arc<Mutex<HashMap<String, AddressBook>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MetadataProxy {
    /// The proxy of `host`, forwarding to `source`.
    pub fn new(host: &str, source: Arc<dyn MetadataSource>) -> Self {
        MetadataProxy {
            host: host.to_string(),
            source,
            books: Arc::default(),
            servers: Mutex::default(),
        }
    }

    /// Replace network `network`'s address book.
    pub fn set_addresses(&self, network: &str, book: AddressBook) {
        lock(&self.books).insert(network.to_string(), book);
    }

    /// Whether network `network` has a running server.
    pub fn serving(&self, network: &str) -> bool {
        lock(&self.servers)
            .get(network)
            .is_some_and(|h| !h.is_finished())
    }

    /// Serve network `network` on `listener` (bound where its guests
    /// reach it), replacing a server it had.
    pub fn serve(&self, network: &str, listener: std::net::TcpListener) -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let served = Served {
            host: self.host.as_str().into(),
            network: network.into(),
            source: self.source.clone(),
            books: self.books.clone(),
        };
        let app = Router::new()
            .route("/", axum::routing::get(root))
            .route("/{*path}", axum::routing::get(document))
            .with_state(served);
        let task = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(listener, service).await {
                tracing::warn!(error = %e, "metadata server stopped");
            }
        });
        if let Some(old) = lock(&self.servers).insert(network.to_string(), task) {
            old.abort();
        }
        Ok(())
    }

    /// Stop serving network `network` and forget its addresses.
    pub fn stop(&self, network: &str) {
        if let Some(task) = lock(&self.servers).remove(network) {
            task.abort();
        }
        lock(&self.books).remove(network);
    }
}

impl Drop for MetadataProxy {
    fn drop(&mut self) {
        for (_, task) in lock(&self.servers).drain() {
            task.abort();
        }
    }
}

async fn root(s: State<Served>, peer: ConnectInfo<SocketAddr>) -> Response {
    answer(s.0, peer.0, String::new()).await
}

async fn document(s: State<Served>, peer: ConnectInfo<SocketAddr>, path: Path<String>) -> Response {
    answer(s.0, peer.0, path.0).await
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

async fn answer(s: Served, peer: SocketAddr, path: String) -> Response {
    let ip = match peer.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let instance = lock(&s.books)
        .get(&*s.network)
        .and_then(|book| book.get(&ip).cloned());
    let Some(instance) = instance else {
        tracing::info!(network = %s.network, source = %ip, "metadata asked from an address with no instance");
        return plain(StatusCode::NOT_FOUND, "Not found.\n");
    };
    if !valid_path(&path) {
        return plain(StatusCode::NOT_FOUND, "Not found.\n");
    }
    match s.source.metadata(&s.host, &instance, &path).await {
        Ok(Some(a)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, a.content_type)],
            a.body,
        )
            .into_response(),
        Ok(None) => plain(StatusCode::NOT_FOUND, "Not found.\n"),
        Err(e) => {
            tracing::warn!(instance = %instance, error = %ferrostack_host_contract::wire::error_chain(&e), "metadata: the controller failed");
            plain(
                StatusCode::BAD_GATEWAY,
                "The metadata service is unavailable.\n",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_host_contract::metadata::MetadataAnswer;
    use ferrostack_host_contract::StateFuture;

    struct Echo;
    impl MetadataSource for Echo {
        fn metadata<'a>(
            &'a self,
            host: &'a str,
            instance: &'a str,
            path: &'a str,
        ) -> StateFuture<'a, Option<MetadataAnswer>> {
            Box::pin(async move {
                Ok((path != "missing").then(|| MetadataAnswer {
                    content_type: "text/plain".into(),
                    body: format!("{host} {instance} {path}").into_bytes(),
                }))
            })
        }
    }

    async fn get(port: u16, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/{path}"))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    #[tokio::test]
    async fn the_source_address_names_the_instance() {
        let proxy = MetadataProxy::new("h1", Arc::new(Echo));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        proxy.serve("net1", listener).unwrap();
        assert!(proxy.serving("net1"));
        // No port has 127.0.0.1 yet: nothing to anyone.
        assert_eq!(get(port, "openstack/latest/meta_data.json").await.0, 404);
        let book = AddressBook::from([("127.0.0.1".parse().unwrap(), "vm-a".to_string())]);
        proxy.set_addresses("net1", book);
        let (status, body) = get(port, "openstack/latest/meta_data.json").await;
        assert_eq!(
            (status, body.as_str()),
            (200, "h1 vm-a openstack/latest/meta_data.json")
        );
        assert_eq!(get(port, "missing").await.0, 404);
        // The book of another network does not count on this one.
        proxy.set_addresses("net1", AddressBook::new());
        proxy.set_addresses(
            "net2",
            AddressBook::from([("127.0.0.1".parse().unwrap(), "vm-b".to_string())]),
        );
        assert_eq!(get(port, "openstack/latest/meta_data.json").await.0, 404);
        proxy.stop("net1");
        assert!(!proxy.serving("net1"));
    }
}
