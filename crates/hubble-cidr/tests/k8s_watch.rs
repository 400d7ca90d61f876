//! The `k8s` source against a tiny Kubernetes API stand-in on 127.0.0.1: list + watch (JSON, chunked) of
//! CiliumCIDRGroups and Calico GlobalNetworkSets, a watch delivering ADDED/MODIFIED/DELETED, a watch that breaks
//! mid-event, and resources the "cluster" does not serve (404).

#![cfg(feature = "k8s")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubble_cidr::k8s::{
    client_from_kubeconfig, watch_cidr_groups, K8sOptions, K8sResource, K8sUpdate,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn ccg(name: &str, rv: u32, cidrs: &[&str], labels: &str) -> String {
    let cidrs: Vec<String> = cidrs.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        r#"{{"apiVersion":"cilium.io/v2","kind":"CiliumCIDRGroup","metadata":{{"name":"{name}","resourceVersion":"{rv}","uid":"u-{name}","labels":{{{labels}}}}},"spec":{{"externalCIDRs":[{}]}}}}"#,
        cidrs.join(",")
    )
}

fn gns(name: &str, rv: u32, nets: &[&str]) -> String {
    let nets: Vec<String> = nets.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        r#"{{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSet","metadata":{{"name":"{name}","resourceVersion":"{rv}"}},"spec":{{"nets":[{}]}}}}"#,
        nets.join(",")
    )
}

fn event(kind: &str, object: &str) -> String {
    format!("{{\"type\":\"{kind}\",\"object\":{object}}}\n")
}

#[derive(Default)]
struct Counters {
    ccg_lists: AtomicUsize,
    ccg_watches: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

async fn write_chunk(s: &mut TcpStream, data: &str) -> std::io::Result<()> {
    s.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
        .await?;
    s.flush().await
}

async fn respond_json(s: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    s.flush().await
}

/// Serve one connection (keep-alive: several requests in a row).
async fn serve(mut s: TcpStream, counters: Arc<Counters>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // Read one request head.
        let mut tmp = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end);
        let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
        counters.requests.lock().unwrap().push(target.clone());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let watch = query.split('&').any(|kv| kv == "watch=true");
        match (path, watch) {
            ("/apis/cilium.io/v2/ciliumcidrgroups", false) => {
                // First list: the initial state. Re-list (after 410 Gone): blocklist was deleted meanwhile.
                let body = if counters.ccg_lists.fetch_add(1, Ordering::SeqCst) == 0 {
                    format!(
                        r#"{{"apiVersion":"cilium.io/v2","kind":"CiliumCIDRGroupList","metadata":{{"resourceVersion":"10"}},"items":[{}]}}"#,
                        ccg("geo-ru", 10, &["203.0.113.0/24"], r#""geo":"ru""#)
                    )
                } else {
                    format!(
                        r#"{{"apiVersion":"cilium.io/v2","kind":"CiliumCIDRGroupList","metadata":{{"resourceVersion":"20"}},"items":[{}]}}"#,
                        ccg(
                            "geo-ru",
                            12,
                            &["203.0.113.0/24", "198.51.100.0/24"],
                            r#""geo":"ru""#
                        )
                    )
                };
                respond_json(&mut s, "200 OK", &body).await?;
            }
            ("/apis/cilium.io/v2/ciliumcidrgroups", true) => {
                let n = counters.ccg_watches.fetch_add(1, Ordering::SeqCst);
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await?;
                if n == 0 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    write_chunk(
                        &mut s,
                        &event(
                            "ADDED",
                            &ccg("blocklist", 11, &["203.0.113.64/26"], r#""list":"abuse""#),
                        ),
                    )
                    .await?;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let modified = ccg(
                        "geo-ru",
                        12,
                        &["203.0.113.0/24", "198.51.100.0/24"],
                        r#""geo":"ru""#,
                    );
                    write_chunk(&mut s, &event("MODIFIED", &modified)).await?;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    // Break mid-event: announce a chunk, send half of it, drop the connection.
                    let broken = event("DELETED", &ccg("geo-ru", 13, &[], ""));
                    let half = &broken[..broken.len() / 2];
                    s.write_all(format!("{:x}\r\n{half}", broken.len()).as_bytes())
                        .await?;
                    s.flush().await?;
                    return Ok(());
                }
                if n == 1 {
                    // The resumed watch: its resourceVersion is "too old" → the client must re-list.
                    let gone = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 12 (20)","reason":"Expired","code":410}"#;
                    write_chunk(&mut s, &event("ERROR", gone)).await?;
                    write_chunk(&mut s, "").await?;
                    return Ok(());
                }
                // After the re-list: nothing new; the stream stays open.
                tokio::time::sleep(Duration::from_secs(30)).await;
                return Ok(());
            }
            ("/apis/projectcalico.org/v3/globalnetworksets", false) => {
                let body = format!(
                    r#"{{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSetList","metadata":{{"resourceVersion":"5"}},"items":[{}]}}"#,
                    gns("corp-internal", 5, &["10.0.0.0/16", "bad-net"])
                );
                respond_json(&mut s, "200 OK", &body).await?;
            }
            ("/apis/projectcalico.org/v3/globalnetworksets", true) => {
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await?;
                tokio::time::sleep(Duration::from_secs(30)).await;
                return Ok(());
            }
            _ => {
                let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#;
                respond_json(&mut s, "404 Not Found", body).await?;
            }
        }
    }
}

fn names(u: &K8sUpdate, ip: &str) -> Vec<String> {
    u.table
        .lookup(ip.parse().unwrap())
        .names()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_watch_events_break_and_resume() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counters = Arc::new(Counters::default());
    let server_counters = Arc::clone(&counters);
    let server = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve(s, Arc::clone(&server_counters)));
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: http://{addr}\ncontexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: nobody\ncurrent-context: stand-in\nusers:\n- name: nobody\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let client = client_from_kubeconfig(&kubeconfig).await.unwrap();

    let options = K8sOptions {
        resources: K8sResource::defaults(),
        debounce: Duration::from_millis(100),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = tokio::spawn(watch_cidr_groups(client, options, move |u| {
        let _ = tx.send(u);
    }));

    let mut updates = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // Converged state: geo-ru modified (two prefixes), blocklist added then deleted, Calico set present.
    loop {
        let u = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("timed out waiting for updates")
            .unwrap();
        let done =
            names(&u, "198.51.100.1") == ["geo-ru"] && names(&u, "203.0.113.70") == ["geo-ru"];
        updates.push(u);
        if done {
            break;
        }
    }
    watch.abort();
    server.abort();

    let first = &updates[0];
    assert_eq!(first.rebuilds, 1);
    assert_eq!(names(first, "203.0.113.70"), ["geo-ru"]);
    assert!(names(first, "198.51.100.1").is_empty());
    assert_eq!(names(first, "10.0.1.1"), ["corp-internal"]);
    assert_eq!(first.diagnostics.len(), 1, "{:?}", first.diagnostics);
    assert_eq!(first.diagnostics[0].entry.as_deref(), Some("bad-net"));
    assert!(first.diagnostics[0]
        .to_string()
        .starts_with("kubernetes: GlobalNetworkSet corp-internal"));
    let labels: Vec<(String, String)> = first
        .table
        .lookup("203.0.113.70".parse().unwrap())
        .labels()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(labels, [("geo".to_string(), "ru".to_string())]);

    // The ADDED blocklist was visible in some update before it was deleted again.
    assert!(
        updates
            .iter()
            .any(|u| names(u, "203.0.113.70") == ["blocklist", "geo-ru"]),
        "blocklist never seen: {:?}",
        updates
            .iter()
            .map(|u| names(u, "203.0.113.70"))
            .collect::<Vec<_>>()
    );
    let last = updates.last().unwrap();
    assert_eq!(names(last, "10.0.1.1"), ["corp-internal"]);
    // The two resources this "cluster" does not serve failed (404) at least once each; they did not block updates.
    assert!(last.watch_errors >= 2, "{}", last.watch_errors);
    // The broken watch was resumed with a new watch request from the last seen version; its 410 led to a re-list
    // whose result replaced the old state (the blocklist, gone in the re-list, is gone from the table).
    assert!(counters.ccg_watches.load(Ordering::SeqCst) >= 2);
    assert_eq!(counters.ccg_lists.load(Ordering::SeqCst), 2);
    let requests = counters.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/apis/cilium.io/v2alpha1/ciliumcidrgroups")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/apis/cilium.io/v2/ciliumcidrgroups?")
                && r.contains("watch=true")
                && r.ends_with("resourceVersion=12")),
        "{requests:?}"
    );
}
