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
        .env("CAIRN_COMPONENTIZE_PY", support::py_tool("componentize-py"))
        .env("WIT_BINDGEN", c_tool("bin/wit-bindgen"))
        .env("WASM_TOOLS", c_tool("bin/wasm-tools"))
        .env(
            "WASI_ADAPTER",
            c_tool("wasi_snapshot_preview1.reactor.wasm"),
        );
    cmd
}

/// A tool `tests/tools/install-c-tools` puts in target/tools.
fn c_tool(rel: &str) -> std::path::PathBuf {
    let path = root().join("target/tools").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run tests/tools/install-c-tools (make test does)",
        path.display()
    );
    path
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
fn a_c_scaffold_builds_renders_and_tests() {
    scaffold_builds_and_passes("c");
}

#[test]
fn every_language_renders_the_same_fixture_to_the_same_bytes() {
    let world = World::new();
    let sdk = root().join("plugins/sdk").display().to_string();
    let values = world.write(
        "values.yaml",
        "hello:\n  greeting: howdy\n  namespace: team-a\n",
    );
    let mut trees = Vec::new();
    for lang in ["rust", "js", "python", "c"] {
        let dir = world.path(lang).join("hello");
        let dir_arg = dir.display().to_string();
        let mut args = vec![
            "component",
            "new",
            "hello",
            "--lang",
            lang,
            "--path",
            &dir_arg,
        ];
        if lang == "rust" {
            args.extend(["--sdk", sdk.as_str()]);
        }
        cairn(&world, &args).assert().success();
        let built = cairn(&world, &["component", "build", &dir_arg])
            .output()
            .unwrap();
        assert!(built.status.success(), "{lang}: {}", stderr(&built));
        let out = world.path(&format!("out-{lang}"));
        let rendered = cairn(&world, &["render", "--values"])
            .arg(&values)
            .arg("--out")
            .arg(&out)
            .arg(dir.join("build/hello.wasm"))
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{lang}: {}", stderr(&rendered));
        trees.push((lang, support::read_tree(&out)));
    }
    let (first, expected) = &trees[0];
    assert!(
        expected["hello/configmap.yaml"].contains("greeting: howdy\n"),
        "{expected:?}"
    );
    for (lang, tree) in &trees[1..] {
        assert_eq!(tree, expected, "{lang} differs from {first}");
    }
}

#[test]
fn the_docs_c_build_is_the_scaffolds_and_other_toolchains_get_clear_errors() {
    // The component.yaml docs/authoring.md shows is the one `--lang c` makes.
    let docs = std::fs::read_to_string(root().join("docs/authoring.md")).unwrap();
    let block = docs
        .split("<!-- c-component-yaml")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("docs/authoring.md shows the C component.yaml");
    let world = World::new();
    let dir = world.path("hello-c");
    let dir_arg = dir.display().to_string();
    cairn(
        &world,
        &[
            "component",
            "new",
            "hello-c",
            "--lang",
            "c",
            "--path",
            &dir_arg,
        ],
    )
    .assert()
    .success();
    assert_eq!(
        std::fs::read_to_string(dir.join("component.yaml")).unwrap(),
        block
    );

    // `other`: a skeleton that says what to write.
    let other = world.path("hello-other");
    let other_arg = other.display().to_string();
    cairn(
        &world,
        &[
            "component",
            "new",
            "hello-other",
            "--lang",
            "other",
            "--path",
            &other_arg,
        ],
    )
    .assert()
    .success();
    let built = cairn(&world, &["component", "build", &other_arg])
        .output()
        .unwrap();
    assert_eq!(built.status.code(), Some(2));
    assert!(
        stderr(&built).contains("write the commands that build hello-other under build:"),
        "{}",
        stderr(&built)
    );

    // A C component without `build:`: the fix is named.
    std::fs::write(
        other.join("component.yaml"),
        "name: hello-other\nlanguage: c\n",
    )
    .unwrap();
    let built = cairn(&world, &["component", "build", &other_arg])
        .output()
        .unwrap();
    assert!(
        stderr(&built)
            .contains("no built-in toolchain for `language: c`; say how to build it with `build:`"),
        "{}",
        stderr(&built)
    );
    // A build that leaves a core module: the command that makes it a
    // component is named.
    std::fs::create_dir_all(other.join("build")).unwrap();
    std::fs::write(
        other.join("component.yaml"),
        "name: hello-other\nlanguage: other\nbuild: printf '\\0asm\\1\\0\\0\\0' > build/core.wasm\noutput: build/core.wasm\n",
    )
    .unwrap();
    let built = cairn(&world, &["component", "build", &other_arg])
        .output()
        .unwrap();
    assert!(
        stderr(&built).contains(
            "is a core WebAssembly module, not a component: wrap it with `wasm-tools component new"
        ),
        "{}",
        stderr(&built)
    );
    // An unknown language: `other` is offered.
    let unknown = cairn(&world, &["component", "new", "x", "--lang", "zig"])
        .output()
        .unwrap();
    assert!(
        stderr(&unknown).contains("[possible values: rust, js, python, c, other]"),
        "{}",
        stderr(&unknown)
    );
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
