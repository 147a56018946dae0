//! RAM of a producer + pull consumer on smoltcp: the engine (state and message
//! buffers), the two frame buffers and the socket table, all inline (no heap). The
//! sockets' own buffers are the application's and come on top (see README).
//! Printed with `cargo test -p rocketmq-smoltcp --test footprint -- --nocapture`.

use rocketmq_proto::collections::Tailored;
use rocketmq_smoltcp::Client;

/// 4 entries per table, one send at a time, one delivered batch, no extras; 1 KiB
/// message buffers; 8 requests in flight; 2 sockets; 4 KiB frame buffers.
type Device = Client<Tailored<4, 1, 1, 0>, heapless::Vec<u8, 1024>, 8, 2, 4096>;

#[test]
fn a_producer_and_pull_consumer_on_smoltcp() {
    let bytes = core::mem::size_of::<Device>();
    let engine = core::mem::size_of::<
        rocketmq_proto::engine::client::Client<Tailored<4, 1, 1, 0>, heapless::Vec<u8, 1024>, 8>,
    >();
    println!("of which the engine: {engine} bytes");
    println!(
        "rocketmq-smoltcp client, Tailored<4, 1, 1, 0>, 1 KiB message buffers, \
         8 in flight, 2 sockets, 4 KiB frame buffers: {bytes} bytes"
    );
    // Measured 2026-11-24; the target is 16 KiB (16,384 bytes), not met yet.
    // This bound keeps it from growing meanwhile.
    assert!(bytes <= 26_880, "{bytes} bytes: the client grew");
}
