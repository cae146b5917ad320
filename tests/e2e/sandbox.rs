//! Hostile components, each built from source in plugins/fixtures/: every one
//! is stopped with a clear error, and nothing is written.

use crate::support;

use support::{World, read_tree, stderr};

/// Renders `component` with `values` and extra args over a good previous
/// render, and checks that it fails, that the previous output is untouched,
/// and that the error says `expected`. Returns stderr.
fn refused(component: &str, values: &str, args: &[&str], expected: &str) -> String {
    let world = World::new();
    world.render("{}", "out", &["gateway"]).assert().success();
    let before = read_tree(&world.path("out"));

    let output = world
        .render(values, "out", &["gateway", component])
        .args(args)
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{component} was not refused:\n{err}"
    );
    assert!(
        err.contains(expected),
        "{component}: expected {expected:?} in:\n{err}"
    );
    assert!(
        !err.contains("thread 'main' panicked"),
        "the host panicked:\n{err}"
    );
    assert_eq!(
        read_tree(&world.path("out")),
        before,
        "{component} changed the output"
    );
    err
}

#[test]
fn an_infinite_loop_hits_the_deadline() {
    refused(
        "hostile-loop",
        "{}",
        &["--limit", "deadline=1s"],
        "component \"hostile-loop\": exceeded the 1s render deadline",
    );
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let err = refused(
        "hostile-alloc",
        "{}",
        &["--limit", "memory=32MiB"],
        "component \"hostile-alloc\": exceeded the 32.0 MiB memory limit during render",
    );
    assert!(
        err.contains("memory allocation of 1048576 bytes failed"),
        "the guest's own message is shown:\n{err}"
    );
}

#[test]
fn deep_recursion_hits_the_stack_limit() {
    refused(
        "hostile-recurse",
        "{}",
        &[],
        "component \"hostile-recurse\": exceeded the 1.0 MiB wasm stack limit",
    );
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let err = refused(
        "hostile-panic",
        "{}",
        &[],
        "component \"hostile-panic\": crashed during render",
    );
    assert!(err.contains("| [info] about to panic"), "{err}");
    assert!(err.contains("this component always panics"), "{err}");
}

#[test]
fn a_stdout_flood_is_truncated_and_stopped() {
    let err = refused(
        "hostile-flood",
        "{}",
        &["--limit", "deadline=1s", "--limit", "log=8KiB"],
        "exceeded the 1s render deadline",
    );
    assert!(
        err.contains("more bytes of output dropped (log limit 8.0 KiB)"),
        "{err}"
    );
    assert!(
        err.len() < 16 * 1024,
        "the error shows a bounded log, got {} bytes",
        err.len()
    );
}

#[test]
fn host_files_are_out_of_reach() {
    let err = refused(
        "hostile-escape",
        "hostile-escape: {reach: file, target: /etc/passwd}\n",
        &[],
        "component \"hostile-escape\": failed during render: cannot read /etc/passwd",
    );
    assert!(!err.contains("root:"), "{err}");
}

#[test]
fn environment_variables_are_out_of_reach() {
    let world = World::new();
    let output = world
        .render(
            "hostile-escape: {reach: env, target: CAIRN_TEST_SECRET}\n",
            "out",
            &["hostile-escape"],
        )
        .env("CAIRN_TEST_SECRET", "hunter2")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read $CAIRN_TEST_SECRET"), "{err}");
    assert!(!err.contains("hunter2") && !world.path("out").exists());
}

#[test]
fn sockets_are_out_of_reach() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap().to_string();
    refused(
        "hostile-escape",
        &format!("hostile-escape: {{reach: socket, target: \"{target}\"}}\n"),
        &[],
        &format!("cannot connect to {target}"),
    );
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the component reached the listener: {accepted:?}"
    );
}

fn emit(path: &str, content: &str) -> String {
    format!(
        "hostile-output:\n  files:\n    - path: {}\n      content: {}\n",
        serde_json::to_string(path).unwrap(),
        serde_json::to_string(content).unwrap()
    )
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";

#[test]
fn path_traversal_is_refused() {
    refused(
        "hostile-output",
        &emit("../../x.yaml", CM),
        &[],
        "component \"hostile-output\", file \"../../x.yaml\": the path contains '..'",
    );
}

#[test]
fn absolute_paths_are_refused() {
    refused(
        "hostile-output",
        &emit("/etc/cron.d/x.yaml", CM),
        &[],
        "the path is absolute",
    );
}

#[test]
fn another_components_files_cannot_be_overwritten() {
    refused(
        "hostile-output",
        &emit("../gateway/helmrelease.yaml", CM),
        &[],
        "file \"../gateway/helmrelease.yaml\": the path contains '..'",
    );
    // Nor by taking its name.
    refused(
        "gateway=hostile-output",
        "{}",
        &[],
        "more than one component is named \"gateway\"",
    );
}

#[test]
fn a_hundred_thousand_files_are_refused() {
    refused(
        "hostile-output",
        "hostile-output: {generate: {count: 100000, bytes: 1}}\n",
        &[],
        "exceeded the output limit: 100000 files, more than the 1000 allowed",
    );
}

#[test]
fn one_huge_file_is_refused() {
    refused(
        "hostile-output",
        "hostile-output: {generate: {count: 1, bytes: 5000000}}\n",
        &[],
        "more than the 4.0 MiB allowed per file",
    );
}

#[test]
fn many_files_over_the_total_are_refused() {
    refused(
        "hostile-output",
        "hostile-output: {generate: {count: 20, bytes: 1000000}}\n",
        &[],
        "more than the 16.0 MiB allowed (--limit output-total)",
    );
}

#[test]
fn invalid_yaml_is_refused() {
    refused(
        "hostile-output",
        &emit("x.yaml", "kind: [unclosed\n"),
        &[],
        "document 1 is not valid YAML",
    );
}

#[test]
fn a_document_that_is_not_a_kubernetes_object_is_refused() {
    refused(
        "hostile-output",
        &emit("x.yaml", &format!("{CM}---\nhello: world\n")),
        &[],
        "document 2 is not a Kubernetes object: it has no apiVersion, no kind, no metadata.name",
    );
}

#[test]
fn plaintext_secrets_and_private_keys_are_never_written() {
    refused(
        "hostile-output",
        &emit(
            "secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n",
        ),
        &[],
        "Secret \"db\" has plaintext stringData; cairn never writes secrets to git in plaintext",
    );
    refused(
        "hostile-output",
        &emit(
            "key.yaml",
            &format!("{CM}data:\n  id: \"-----BEGIN OPENSSH PRIVATE KEY-----\"\n"),
        ),
        &[],
        "holds a private key block",
    );
}
