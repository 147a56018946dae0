//! rocketmq-proto on an emulated Cortex-M3 (QEMU `lm3s6965evb`, 256 KiB flash, 64 KiB
//! RAM), built without `alloc` and without a global allocator: codec vectors byte for
//! byte, then the client engine as a producer and a pull consumer against a NameServer
//! and a broker played here frame by frame. Every check is reported by name over
//! semihosting; QEMU exits 0 only if all passed.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};

#[cfg(feature = "codec-checks")]
#[macro_use]
mod hex;
#[macro_use]
mod check;
#[cfg(feature = "codec-checks")]
mod codec;
mod engine;
mod stack;

use check::Fail;

/// A codec check: pure functions over bytes.
type CodecCheck = fn() -> Result<(), Fail>;
/// An engine scenario: runs on the static engine slot and frame buffers.
type EngineCheck = fn(&mut engine::Ctx) -> Result<(), Fail>;

#[cfg(not(feature = "codec-checks"))]
const CODEC: &[(&str, CodecCheck)] = &[];

#[cfg(feature = "codec-checks")]
const CODEC: &[(&str, CodecCheck)] = &[
    (
        "W1 JSON request decodes and re-encodes byte-exact",
        codec::w1_json_request,
    ),
    (
        "W2 binary request encodes byte-exact",
        codec::w2_binary_request,
    ),
    (
        "W3 binary responses decode (and the empty one re-encodes)",
        codec::w3_binary_responses,
    ),
    (
        "W5 oneway JSON request encodes byte-exact",
        codec::w5_oneway_json_request,
    ),
    ("W4 ACL signature (captured)", codec::w4_acl_signature),
    (
        "W6 route body, fastjson keys, fixed capacity",
        codec::w6_route_body,
    ),
    (
        "M1 properties encode byte-exact and decode",
        codec::m1_properties,
    ),
    (
        "M2 stored record decodes and re-encodes byte-exact",
        codec::m2_record,
    ),
    (
        "M5/M6 UNIQ_KEY, offset msg id, tag hash",
        codec::m5_m6_ids_and_tags,
    ),
    (
        "capture: SEND_MESSAGE_V2 request, JSON and binary typed headers",
        codec::send_v2_captures,
    ),
    (
        "capture: send response header",
        codec::send_response_capture,
    ),
    (
        "capture: route response body",
        codec::route_response_capture,
    ),
    (
        "capture: pull response record, CRC, re-encode byte-exact",
        codec::pull_response_capture,
    ),
    (
        "captures: split feeding at every byte and re-encode",
        codec::captures_split_and_reencode,
    ),
];

const ENGINE: &[(&str, EngineCheck)] = &[
    (
        "engine: producer route -> send -> SendOk",
        engine::producer_sends,
    ),
    (
        "engine: pull consumer assign -> offset -> pull -> ack -> commit",
        engine::pull_consumer,
    ),
];

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these (at the top of `main`) into `&'static mut`: in .bss, so
    // the engine's RAM shows there, and no copy of it sits in main's stack frame.
    static mut DEVICE: MaybeUninit<engine::Device> = MaybeUninit::uninit();
    static mut WIRE: engine::Wire = engine::Wire::new();
    say(&[
        "rocketmq-proto on Cortex-M3 (no allocator); engine ",
        itoa::Buffer::new().format(core::mem::size_of::<engine::Device>()),
        " bytes",
    ]);
    let mut ctx = engine::Ctx {
        device: DEVICE,
        wire: WIRE,
    };
    let mut failed = 0u32;
    let outcomes = CODEC
        .iter()
        .map(|(name, check)| (name, check()))
        .chain(ENGINE.iter().map(|(name, check)| (name, check(&mut ctx))));
    for (name, outcome) in outcomes {
        if stack::overflowed() {
            // It may have overwritten the engine: nothing after this can be trusted.
            say(&["FAIL  ", name, ": the stack ran into the statics"]);
            debug::exit(debug::EXIT_FAILURE);
        }
        match outcome {
            Ok(()) => say(&["PASS  ", name]),
            Err(f) => {
                failed += 1;
                let (file, line) = f.location();
                let mut n = itoa::Buffer::new();
                say(&["FAIL  ", name, ": at ", file, ":", n.format(line)]);
            }
        }
    }
    let total = (CODEC.len() + ENGINE.len()) as u32;
    let (used, size) = stack::high_water();
    let (mut a, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
    say(&[
        "stack: ",
        a.format(used),
        " of ",
        b.format(size),
        " bytes used",
    ]);
    let (passed, failed_text) = (a.format(total - failed), b.format(failed));
    say(&[passed, " passed, ", failed_text, " failed"]);
    debug::exit(if failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Print `pieces` and a newline over semihosting. Text only: numbers are formatted
/// with itoa (which the library links anyway), so core::fmt's machinery is not linked
/// for the report.
pub fn say(pieces: &[&str]) {
    if let Ok(mut out) = hio::hstdout() {
        for p in pieces {
            let _ = out.write_all(p.as_bytes());
        }
        let _ = out.write_all(b"\n");
    }
}

/// A fault fails the run at once instead of hanging until the script's timeout.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    let mut hex = *b"0x00000000";
    for (i, d) in hex.iter_mut().skip(2).enumerate() {
        *d = b"0123456789abcdef"[((frame.pc() >> (28 - 4 * i)) & 0xF) as usize];
    }
    say(&[
        "FAIL  hard fault at pc ",
        core::str::from_utf8(&hex).unwrap_or("?"),
    ]);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// A panic fails the run (its location is printed; formatting the message would cost
/// flash for every panic site's text).
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(l) => say(&[
            "FAIL  panic at ",
            l.file(),
            ":",
            itoa::Buffer::new().format(l.line()),
        ]),
        None => say(&["FAIL  panic"]),
    }
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
