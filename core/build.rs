//! Sets `cfg(rmq_size_opt)` when the crate is built for size (`opt-level = "s"` or `"z"`),
//! so that the codec's hot helpers, force-inlined for speed otherwise, are left to the
//! optimizer there: forcing them inline into every header's encoder costs a firmware
//! about 18 KiB of flash for a few hundred instructions per frame.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(rmq_size_opt)");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    if matches!(std::env::var("OPT_LEVEL").as_deref(), Ok("s" | "z")) {
        println!("cargo::rustc-cfg=rmq_size_opt");
    }
}
