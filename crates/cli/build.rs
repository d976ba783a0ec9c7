//! Links the `encore` binary as a position-dependent executable on Linux (`-no-pie`).
//!
//! A position-independent executable is relocated by the dynamic loader at every start: about
//! 45 000 relocations, which write to (and so copy) every page of `.data.rel.ro`. That costs
//! about 0.5 ms of CPU per process on the build machine, a twentieth of `encore analyze` on a
//! 30 s file. The price: the executable's own code is always loaded at the same address (no
//! address-space randomisation for it; shared libraries, stack and heap are still randomised).
//! Remove this file to get a PIE binary back; nothing else depends on it.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=encore=-no-pie");
    }
}
