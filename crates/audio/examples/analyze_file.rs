//! Prints `encore_audio::analyze_file` of each argument as one JSON line: the analysis without
//! the CLI around it, for profiling (`valgrind --tool=callgrind`) and comparing outputs.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args_os().skip(1) {
        let analysis = encore_audio::analyze_file(path.as_ref())?;
        println!("{}", serde_json::to_string(&analysis)?);
    }
    Ok(())
}
