//! One module per subcommand. Each defines `Args` (what the user typed, parsed by clap) and
//! `run(Args)` (builds what runs, returns the exit code).

pub mod analyze;
pub mod fingerprint;
pub mod haptics;
pub mod lyrics;
pub mod registry;
pub mod scan;
pub mod serve;
