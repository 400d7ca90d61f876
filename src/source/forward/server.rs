//! The Forward protocol server: TCP (optionally TLS) and unix-socket listeners, one task per connection.
//!
//! Per connection: optional TLS, then the handshake when a shared key is configured (nothing is read as data
//! before the PING authenticates), then a loop that frames whole MessagePack messages, decodes them and hands
//! each to the ingest loop as a [`NetworkBatch`]. Acknowledgements (`{"ack": chunk}`, the chunk's bytes echoed
//! exactly) are written by a second task, in message order, each only once the ingest loop confirms the batch
//! is spooled; a batch that is not confirmed closes the connection without its ack, so the client resends.
//!
//! Limits: `max_connections` per listener (excess connections are closed at once), `max_message_bytes` per
//! message (the read buffer never grows beyond it plus one read), `max_decompressed_bytes` per compressed
//! message, a bounded number of unacknowledged messages per connection, and a handshake deadline. Anything
//! malformed closes the connection and is counted by reason; what was already handed over stays handed over.

use super::decode::{decode_message, RecordOptions};
use super::handshake::{Challenge, Credentials};
use super::msgpack;
use crate::source::network::{BatchSender, NetworkBatch, NetworkLimits};
use crate::source::tls::TlsReloader;
use crate::telemetry::metrics::Metrics;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Time a client has to complete TLS and the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Unacknowledged messages one connection may have in flight before reading pauses.
const MAX_UNACKED: usize = 64;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 256 << 10;

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// TCP.
    Tcp(SocketAddr),
    /// A unix socket path.
    Unix(PathBuf),
}

/// One Forward listener's settings.
pub struct ForwardConfig {
    /// The metrics label (the `--input` value).
    pub label: String,
    /// Where to listen.
    pub addr: ListenAddr,
    /// Handshake credentials; `None` = no handshake.
    pub credentials: Option<Credentials>,
    /// TLS (TCP only).
    pub tls: Option<Arc<TlsReloader>>,
    /// Record → line settings.
    pub records: RecordOptions,
    /// Limits.
    pub limits: NetworkLimits,
}

struct Ctx {
    cfg: ForwardConfig,
    tx: BatchSender,
    metrics: Arc<Metrics>,
}

impl Ctx {
    fn reject(&self, reason: &str) {
        self.metrics.net_reject(&self.cfg.label, reason);
    }
    fn label(&self) -> Vec<(&'static str, String)> {
        Metrics::label("input", &self.cfg.label)
    }
}

/// Binds the listener and spawns its accept loop on the current runtime; returns the bound address (for
/// `:0` ports) as text.
pub async fn start(
    cfg: ForwardConfig,
    tx: BatchSender,
    metrics: Arc<Metrics>,
) -> std::io::Result<String> {
    metrics.register_network_input(&cfg.label);
    let sem = Arc::new(Semaphore::new(cfg.limits.max_connections.max(1)));
    match cfg.addr.clone() {
        ListenAddr::Tcp(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await?;
            let bound = l.local_addr()?.to_string();
            spawn_accept_loop(l, Arc::new(Ctx { cfg, tx, metrics }), sem);
            Ok(bound)
        }
        ListenAddr::Unix(path) => {
            if std::fs::symlink_metadata(&path)
                .map(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    m.file_type().is_socket()
                })
                .unwrap_or(false)
            {
                std::fs::remove_file(&path)?;
            }
            let l = tokio::net::UnixListener::bind(&path)?;
            let bound = path.display().to_string();
            spawn_accept_loop(l, Arc::new(Ctx { cfg, tx, metrics }), sem);
            Ok(bound)
        }
    }
}

/// What the accept loop needs of a listener: the next connection, and how to serve one.
trait Listener: Send + Sync + 'static {
    type Stream: Send + 'static;
    /// The next accepted connection and a name for its peer.
    fn next(&self) -> impl Future<Output = std::io::Result<(Self::Stream, String)>> + Send;
    /// Serves one accepted connection until it ends.
    fn serve(stream: Self::Stream, peer: String, ctx: Arc<Ctx>) -> impl Future<Output = ()> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn next(&self) -> std::io::Result<(Self::Stream, String)> {
        let (stream, peer) = self.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, peer.to_string()))
    }

    /// TLS first when configured (within [`HANDSHAKE_TIMEOUT`]); a configured TLS whose certificate cannot be
    /// loaded refuses the connection rather than serving it in the clear.
    async fn serve(stream: Self::Stream, peer: String, ctx: Arc<Ctx>) {
        match ctx.cfg.tls.as_ref().and_then(|t| t.acceptor()) {
            Some(acceptor) => {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => serve(s, &ctx, &peer).await,
                    _ => ctx.reject("tls_handshake"),
                }
            }
            None if ctx.cfg.tls.is_some() => ctx.reject("tls_unavailable"),
            None => serve(stream, &ctx, &peer).await,
        }
    }
}

impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;

    async fn next(&self) -> std::io::Result<(Self::Stream, String)> {
        let (stream, _) = self.accept().await?;
        Ok((stream, "unix".to_owned()))
    }

    async fn serve(stream: Self::Stream, peer: String, ctx: Arc<Ctx>) {
        serve(stream, &ctx, &peer).await
    }
}

/// Spawns `listener`'s accept loop on the current runtime. Each connection takes a permit of `connections` or is
/// closed at once (counted as `too_many_connections`), then is served on its own task; a failed accept is
/// logged and retried after 100 ms.
fn spawn_accept_loop<L: Listener>(listener: L, ctx: Arc<Ctx>, connections: Arc<Semaphore>) {
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.next().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("forward: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                ctx.reject("too_many_connections");
                drop(stream);
                continue;
            };
            let ctx = Arc::clone(&ctx);
            tokio::spawn(async move {
                let _permit = permit;
                L::serve(stream, peer, ctx).await;
            });
        }
    });
}

/// What framing the next message found.
enum Next {
    /// A whole message of this length at the buffer's start offset.
    Message(usize),
    /// Clean end of stream between messages.
    Eof,
    /// Close the connection, counting this reason.
    Reject(&'static str),
}

/// A read buffer whose consumed prefix is dropped lazily.
struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
}

impl ReadBuf {
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Frames the next whole message, reading as needed (never holding more than `max` + one read).
    async fn next<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        max: usize,
        ctx: &Ctx,
    ) -> std::io::Result<Next> {
        loop {
            let want = match msgpack::value_len(self.pending()) {
                Ok(n) if n > max => return Ok(Next::Reject("oversize_message")),
                Ok(n) => return Ok(Next::Message(n)),
                Err(msgpack::Error::Incomplete { needed }) => {
                    if needed > max {
                        return Ok(Next::Reject("oversize_message"));
                    }
                    needed
                }
                Err(_) => return Ok(Next::Reject("malformed_msgpack")),
            };
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            while self.buf.len() < want {
                let room = (want - self.buf.len()).clamp(READ_CHUNK.min(max), READ_CHUNK);
                self.buf.reserve(room);
                let n = (&mut *rd).take(room as u64).read_buf(&mut self.buf).await?;
                if n == 0 {
                    return Ok(if self.buf.is_empty() {
                        Next::Eof
                    } else {
                        Next::Reject("truncated_message")
                    });
                }
                ctx.metrics
                    .net_bytes
                    .get_or_create(&ctx.label())
                    .inc_by(n as u64);
            }
        }
    }
}

struct ConnectionGauge<'a>(&'a Ctx);

impl Drop for ConnectionGauge<'_> {
    fn drop(&mut self) {
        self.0
            .metrics
            .net_connections
            .get_or_create(&self.0.label())
            .dec();
    }
}

async fn serve<S>(stream: S, ctx: &Ctx, peer: &str)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let label = ctx.label();
    ctx.metrics
        .net_connections_opened
        .get_or_create(&label)
        .inc();
    ctx.metrics.net_connections.get_or_create(&label).inc();
    let _gauge = ConnectionGauge(ctx);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut rb = ReadBuf {
        buf: Vec::new(),
        start: 0,
    };
    if let Some(creds) = &ctx.cfg.credentials {
        let ok = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            handshake(creds, &mut rd, &mut wr, &mut rb, ctx),
        )
        .await
        .unwrap_or_else(|_| {
            ctx.metrics.net_auth_failure(&ctx.cfg.label, "timeout");
            false
        });
        if !ok {
            tracing::warn!(input = %ctx.cfg.label, peer, "forward: handshake refused");
            return;
        }
    }
    let (ack_tx, ack_rx) = mpsc::channel::<(oneshot::Receiver<bool>, Vec<u8>)>(MAX_UNACKED);
    let metrics = Arc::clone(&ctx.metrics);
    let acks = metrics.net_acks.get_or_create(&label).clone();
    let writer = tokio::spawn(ack_writer(wr, ack_rx, acks));
    let max = ctx.cfg.limits.max_message_bytes;
    loop {
        let next = tokio::select! {
            n = rb.next(&mut rd, max, ctx) => n,
            _ = ack_tx.closed() => break,
        };
        let n = match next {
            Ok(Next::Message(n)) => n,
            Ok(Next::Eof) => break,
            Ok(Next::Reject(reason)) => {
                ctx.reject(reason);
                tracing::warn!(input = %ctx.cfg.label, peer, reason, "forward: closing connection");
                break;
            }
            Err(_) => break,
        };
        let mut lines = Vec::new();
        let decoded = decode_message(&rb.pending()[..n], &ctx.cfg.records, &mut lines);
        rb.consume(n);
        let d = match decoded {
            Ok(d) => d,
            Err(r) => {
                ctx.reject(r.reason());
                tracing::warn!(input = %ctx.cfg.label, peer, reason = r.reason(), "forward: closing connection");
                break;
            }
        };
        ctx.metrics.net_messages.get_or_create(&label).inc();
        ctx.metrics
            .net_records
            .get_or_create(&label)
            .inc_by(d.records);
        if d.skipped > 0 {
            ctx.metrics
                .net_reject_n(&ctx.cfg.label, "no_record_key", d.skipped);
        }
        if lines.is_empty() && d.chunk.is_none() {
            continue;
        }
        let (done_tx, done_rx) = oneshot::channel();
        let batch = NetworkBatch {
            lines,
            records: d.records,
            ack: done_tx,
        };
        let sent = tokio::select! {
            r = ctx.tx.send(batch) => r.is_ok(),
            _ = ack_tx.closed() => false,
        };
        if !sent {
            break;
        }
        if let Some(chunk) = d.chunk {
            if ack_tx.send((done_rx, chunk)).await.is_err() {
                break;
            }
        }
    }
    drop(ack_tx);
    let _ = writer.await;
}

async fn handshake<R, W>(
    creds: &Credentials,
    rd: &mut R,
    wr: &mut W,
    rb: &mut ReadBuf,
    ctx: &Ctx,
) -> bool
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let fail = |reason: &str| {
        ctx.metrics.net_auth_failure(&ctx.cfg.label, reason);
        false
    };
    let Ok(challenge) = Challenge::new(creds) else {
        return fail("no_randomness");
    };
    if wr.write_all(&challenge.helo()).await.is_err() || wr.flush().await.is_err() {
        return fail("io");
    }
    let n = match rb.next(rd, 64 << 10, ctx).await {
        Ok(Next::Message(n)) => n,
        _ => return fail("malformed_ping"),
    };
    let (pong, refusal) = challenge.answer(creds, &rb.pending()[..n]);
    rb.consume(n);
    let _ = wr.write_all(&pong).await;
    let _ = wr.flush().await;
    match refusal {
        None => true,
        Some(r) => fail(r.reason()),
    }
}

async fn ack_writer<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<(oneshot::Receiver<bool>, Vec<u8>)>,
    acks: prometheus_client::metrics::counter::Counter,
) {
    let mut msg = Vec::with_capacity(64);
    while let Some((done, chunk)) = rx.recv().await {
        if !matches!(done.await, Ok(true)) {
            // Not durable: close without acknowledging; the client sends the chunk again.
            break;
        }
        msg.clear();
        msgpack::write_map_len(&mut msg, 1);
        msgpack::write_str(&mut msg, b"ack");
        msg.extend_from_slice(&chunk);
        if wr.write_all(&msg).await.is_err() || wr.flush().await.is_err() {
            break;
        }
        acks.inc();
    }
    let _ = wr.shutdown().await;
}
