//! Fluentd's Forward protocol v1 (what Fluent Bit's `out_forward`, Fluentd's `out_forward` and
//! fluent-logger clients send): MessagePack framing and decoding ([`msgpack`], [`decode`]), the shared-key
//! handshake ([`handshake`]) and the server ([`server`]). The server knows only the batch channel
//! (`source::network`) and the metrics; it does not know the daemon.

pub mod decode;
pub mod handshake;
pub mod msgpack;
pub mod server;
