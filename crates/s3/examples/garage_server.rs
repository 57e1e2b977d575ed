//! A single-node Garage on loopback for benchmarks (`bench/scale-out.sh`): starts it, prints
//! the `AWS_*` variables that reach it as `export` lines and the bucket's name, then serves
//! until its standard input closes (or it is killed), and stops Garage.
//!
//! `cargo run --release -p athar-s3 --features test-server --example garage_server`

use std::io::Read as _;

fn main() -> Result<(), String> {
    let garage = athar_s3::garage::Garage::start()?;
    for (k, v) in garage.env() {
        println!("export {k}='{v}'");
    }
    println!("export GARAGE_BUCKET='{}'", athar_s3::garage::BUCKET);
    println!("export GARAGE_DIR='{}'", garage.dir().display());
    println!("# ready");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(garage);
    Ok(())
}
