//! `rustorium-bench` and the `rustorium bench` forwarder print the same table.

use std::process::Command;

/// The constraint table of a depth-4 block circuit: per-component counts that add up, from the
/// bench binary and, forwarded, from `rustorium bench`.
#[test]
fn the_circuit_table_comes_from_the_bench_binary_and_through_the_forwarder() {
    let direct = Command::new(env!("CARGO_BIN_EXE_rustorium-bench"))
        .args(["circuit", "--depth", "4"])
        .output()
        .expect("rustorium-bench runs");
    assert!(direct.status.success(), "{direct:?}");
    let table = String::from_utf8(direct.stdout).expect("utf-8");
    assert!(table.contains("| component (depth 4) |"), "{table}");
    let count = |row: &str| -> u64 {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("| {row}")))
            .unwrap_or_else(|| panic!("no row {row}:\n{table}"));
        line.trim_end_matches(" |")
            .rsplit("| ")
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {line}"))
    };
    let (slot, block) = (count("**per transfer slot**"), count("per block"));
    assert!(slot > 0 && block > 0, "{table}");
    assert_eq!(slot + block, count("block circuit, capacity 1"), "{table}");
    assert_eq!(
        block + 4 * slot,
        count("block circuit, capacity 4"),
        "{table}"
    );
    // The forwarder: `rustorium` beside `rustorium-bench` in the same target directory.
    let rustorium =
        std::path::Path::new(env!("CARGO_BIN_EXE_rustorium-bench")).with_file_name("rustorium");
    let forwarded = Command::new(&rustorium)
        .args(["bench", "circuit", "--depth", "4"])
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", rustorium.display()));
    assert!(forwarded.status.success(), "{forwarded:?}");
    assert_eq!(String::from_utf8_lossy(&forwarded.stdout), table);
    // A bad argument: the bench binary's usage error and status, through the forwarder too.
    let bad = Command::new(&rustorium)
        .args(["bench", "no-such-bench"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("no-such-bench"), "{err}");
    assert!(
        err.contains("Usage: rustorium-bench"),
        "the usage is not the bench binary's (a stale `rustorium` with its own bench command?): {err}"
    );
}
