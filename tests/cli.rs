//! The command line: report, JSON, plots, and the exit codes a pipeline can gate on.
#![cfg(feature = "cli")]

use std::process::Command;

use vanishing_gradient::history::{Recorder, TrainingHistory};

const CLI: &str = env!("CARGO_BIN_EXE_vanishing-gradient");

/// Six layers whose gradient shrinks `factor`x per layer towards the input.
fn history(factor: f32, improving: bool) -> TrainingHistory {
    let mut recorder = Recorder::new();
    let mut weights = vec![vec![0.5_f32; 64]; 6];
    for epoch in 0..15 {
        let loss = if improving {
            0.69 * 0.8f64.powi(epoch) + 0.2
        } else {
            0.69 - 1e-4 * f64::from(epoch)
        };
        let mut record = recorder.epoch(loss);
        for (depth, layer) in weights.iter_mut().enumerate() {
            let gradient = vec![0.1 * factor.powi(5 - depth as i32); 64];
            record
                .layer(&format!("dense{depth}"))
                .unwrap()
                .weights(layer)
                .unwrap()
                .gradient(&gradient)
                .unwrap();
            layer
                .iter_mut()
                .zip(&gradient)
                .for_each(|(w, g)| *w -= 0.1 * g);
        }
        record.finish().unwrap();
    }
    recorder.into_history()
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vg-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_vanishing_history_exits_3_with_the_report() {
    let dir = scratch("vanishing");
    let path = write(
        &dir,
        "h.json",
        &history(0.25, false).to_json_string().unwrap(),
    );
    let out = Command::new(CLI)
        .args(["diagnose"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("VANISHING GRADIENT"), "{text}");
    assert!(text.contains("ReLU"), "{text}");
}

#[test]
fn a_healthy_history_exits_0_and_json_parses() {
    let dir = scratch("healthy");
    let path = write(
        &dir,
        "h.json",
        &history(1.0, true).to_json_string().unwrap(),
    );
    let out = Command::new(CLI)
        .args(["diagnose", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["problem"], "Healthy", "{value}");
    assert_eq!(value["epochs"], 15);
}

#[test]
fn plots_are_written() {
    let dir = scratch("plots");
    let path = write(
        &dir,
        "h.json",
        &history(0.25, false).to_json_string().unwrap(),
    );
    let plots = dir.join("plots");
    let out = Command::new(CLI)
        .args(["diagnose", "--plots"])
        .arg(&plots)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    for name in vanishing_gradient::plot::FILE_NAMES {
        let svg = std::fs::read_to_string(plots.join(name)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{name}");
    }
}

#[test]
fn unreadable_input_exits_1_naming_the_problem() {
    let dir = scratch("bad");
    let missing = Command::new(CLI)
        .args(["diagnose"])
        .arg(dir.join("nope.json"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open"));

    let bad = write(
        &dir,
        "bad.json",
        r#"{"format": "vanishing-gradient/history", "version": 1, "epochs": [{"loss": "high", "layers": []}]}"#,
    );
    let out = Command::new(CLI)
        .args(["diagnose"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("loss") && message.contains("epoch"),
        "{message}"
    );

    let usage = Command::new(CLI).args(["diagnose"]).output().unwrap();
    assert_eq!(
        usage.status.code(),
        Some(2),
        "a usage error is clap's code 2"
    );
}
