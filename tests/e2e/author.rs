//! The authoring workflow: components scaffolded in each language build,
//! render in the sandbox and pass their own fixtures out of the box.

use crate::support;

use support::{World, root, stderr, stdout};

/// `cairn component ...` with the toolchains `make component-tools` installs,
/// offline, sharing build outputs and compiled components across tests.
fn cairn(world: &World, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = world.cairn();
    cmd.args(args)
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TARGET_DIR", root().join("target/scaffold"))
        .env(
            "CAIRN_COMPONENTIZE_JS",
            root().join("plugins/node_modules/@bytecodealliance/componentize-js"),
        )
        .env("CAIRN_COMPONENTIZE_PY", support::py_tool("componentize-py"));
    cmd
}

fn scaffold_builds_and_passes(lang: &str) -> (World, std::path::PathBuf) {
    let world = World::new();
    let dir = world.path(&format!("hello-{lang}"));
    let name = format!("hello-{lang}");
    let sdk = root().join("plugins/sdk");
    let mut args = vec!["component", "new", name.as_str(), "--lang", lang, "--path"];
    let dir_arg = dir.display().to_string();
    args.push(&dir_arg);
    let sdk_arg = sdk.display().to_string();
    if lang == "rust" {
        args.extend(["--sdk", sdk_arg.as_str()]);
    }
    cairn(&world, &args).assert().success();
    assert!(
        dir.join("README.md").exists()
            && dir.join("tests/default/expected/configmap.yaml").exists()
    );

    let output = cairn(&world, &["component", "test", &dir_arg])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("ok      default\n1 passed, 0 failed"),
        "{}",
        stdout(&output)
    );
    let wasm = dir.join(format!("build/{name}.wasm"));
    let output = cairn(&world, &["inspect"]).arg(&wasm).output().unwrap();
    assert!(
        stdout(&output).contains(&format!("{name} 0.1.0")),
        "{}",
        stdout(&output)
    );
    (world, dir)
}

#[test]
fn a_rust_scaffold_builds_renders_and_tests_and_mismatches_show_a_diff() {
    let (world, dir) = scaffold_builds_and_passes("rust");
    let wasm = dir.join("build/hello-rust.wasm").display().to_string();
    let dir_arg = dir.display().to_string();
    std::fs::write(dir.join("tests/default/values.yaml"), "greeting: howdy\n").unwrap();
    let output = cairn(&world, &["component", "test", &dir_arg, "--wasm", &wasm])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains("FAILED  default") && out.contains("-  greeting: hello\n+  greeting: howdy"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed"), "{out}");

    cairn(
        &world,
        &["component", "test", &dir_arg, "--wasm", &wasm, "--bless"],
    )
    .assert()
    .success();
    cairn(&world, &["component", "test", &dir_arg, "--wasm", &wasm])
        .assert()
        .success();

    // Fixtures can expect a failure, and every fixture is reported even when
    // some fail.
    let fixture = |case: &str, values: &str, expect: Option<&str>| {
        let case_dir = dir.join("tests").join(case);
        std::fs::create_dir_all(&case_dir).unwrap();
        std::fs::write(case_dir.join("values.yaml"), values).unwrap();
        if let Some(expect) = expect {
            std::fs::write(case_dir.join("expect.yaml"), expect).unwrap();
        }
    };
    fixture(
        "a-refused-value",
        "greeting: 5
",
        Some("error: \"greeting: 5 is not of type \\\"string\\\"\"\n"),
    );
    fixture(
        "an-unexpected-failure",
        "nope: 1
",
        None,
    );
    fixture(
        "a-missing-diagnostic",
        "{}
",
        Some("diagnostics:\n  - {severity: warning, field: greeting, message: too short}\n"),
    );
    let output = cairn(&world, &["component", "test", &dir_arg, "--wasm", &wasm])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    for expected in [
        "ok      a-refused-value\n",
        "FAILED  a-missing-diagnostic\n  - expected a warning diagnostic at greeting containing \"too short\"; got: none\n",
        "ok      default\n",
        "FAILED  an-unexpected-failure\n  - hello-rust.nope: unknown option",
        "2 passed, 2 failed",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
}

#[test]
fn a_javascript_scaffold_builds_renders_and_tests() {
    scaffold_builds_and_passes("js");
}

#[test]
fn a_python_scaffold_builds_renders_and_tests() {
    scaffold_builds_and_passes("python");
}

#[test]
fn scaffolding_refuses_bad_names_and_occupied_directories() {
    let world = World::new();
    let output = cairn(&world, &["component", "new", "Bad_Name"])
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("\"Bad_Name\" is not a valid component name"),
        "{}",
        stderr(&output)
    );
    world.write("taken/file.txt", "x");
    let output = cairn(&world, &["component", "new", "ok", "--path"])
        .arg(world.path("taken"))
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("exists and is not empty"),
        "{}",
        stderr(&output)
    );
    let output = cairn(&world, &["component", "build"])
        .arg(world.path("taken"))
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("is not a component"),
        "{}",
        stderr(&output)
    );
}
