#!/usr/bin/env python3
"""Whole-process benchmarks of cairn, each against `helm template` measured in
the same run.

Method: every case runs as a separate process, WARMUP times unmeasured and then
RUNS times; we report the median wall time and the peak resident set size
(ru_maxrss from wait4) of the measured runs. The reference is `helm template`
of the chart `helm create` makes, so ratios compare like with like on the same
machine at the same moment. Results go to target/bench/results.{md,json}.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
WARMUP = 2


def measure(cmd, env, setup=None, runs=RUNS, warmup=WARMUP):
    """Median wall seconds and peak RSS (KiB) of `cmd` over `runs` runs."""
    times, peaks = [], []
    for i in range(warmup + runs):
        if setup:
            setup()
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                err.seek(0)
                sys.exit(f"benchmark command failed: {' '.join(map(str, cmd))}\n{err.read().decode()}")
        if i >= warmup:
            times.append(elapsed)
            peaks.append(usage.ru_maxrss)
    return statistics.median(times), max(peaks)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cairn", required=True)
    parser.add_argument("--helm", required=True)
    parser.add_argument("--wasm", required=True)
    parser.add_argument("--reference", required=True, help="the built reference stack")
    args = parser.parse_args()
    cairn, helm, wasm = Path(args.cairn).resolve(), Path(args.helm).resolve(), Path(args.wasm).resolve()
    gateway, certs = wasm / "gateway.wasm", wasm / "cert_manager.wasm"

    # Files live on tmpfs where there is one: on ext4, creating and deleting
    # hundreds of small files costs more than rendering them and varies 2x
    # between runs, which would measure the disk rather than cairn.
    shm = Path("/dev/shm")
    work = Path(tempfile.mkdtemp(prefix="cairn-bench-", dir=shm if shm.is_dir() else None))
    env = dict(os.environ, XDG_CACHE_HOME=str(work / "cache"), HOME=str(work))
    results = []

    def case(name, cmd, reference=None, setup=None, target=None, runs=RUNS):
        seconds, rss = measure(cmd, env, setup, runs=runs, warmup=min(WARMUP, runs))
        results.append({"case": name, "median_ms": seconds * 1000, "peak_rss_kib": rss,
                        "reference": reference, "target": target})
        print(f"{name:<48} {seconds * 1000:8.1f} ms {rss / 1024:7.1f} MiB", flush=True)

    # The reference: helm template of a default chart.
    subprocess.run([helm, "create", work / "chart"], check=True, env=env, stdout=subprocess.DEVNULL)
    case("helm template (default helm create chart)", [helm, "template", "demo", work / "chart"])

    values = work / "values.yaml"
    values.write_text("gateway: {domain: example.com}\ncert-manager: {issuer: {email: ops@example.com}}\n")
    render2 = [cairn, "render", "--values", values, "--out", work / "out2", gateway, certs]

    def empty_cache():
        shutil.rmtree(work / "cache", ignore_errors=True)

    case("cairn render, 2 components, cold cache", render2, "helm template (default helm create chart)",
         setup=empty_cache)
    case("cairn render, 2 components, warm", render2, "helm template (default helm create chart)",
         target="<= 0.5x helm time, RSS below helm")

    copies = 50
    values50 = work / "values50.yaml"
    values50.write_text("".join(f"c{i}: {{namespace: cm-{i}, issuer: {{enabled: false}}}}\n" for i in range(copies)))
    render50 = [cairn, "render", "--values", values50, "--out", work / "out50"]
    render50 += [f"c{i}={certs}" for i in range(copies)]
    case(f"cairn render, {copies} components, warm", render50, "cairn render, 2 components, warm",
         target="<= 4x the 2-component time")

    def scaled(name, n):
        """`name`'s time times `n`, as the reference of a case doing n times its work."""
        base = next(r for r in results if r["case"] == name)
        results.append({"case": f"{name} x {n}", "median_ms": base["median_ms"] * n,
                        "peak_rss_kib": base["peak_rss_kib"], "reference": None, "target": None,
                        "derived": True})
        return f"{name} x {n}"

    stack_cases(case, cairn, wasm, work, env)
    reference_cases(case, cairn, Path(args.reference).resolve(), work, env)
    fleet_cases(case, scaled, cairn, Path(args.reference).resolve(), work, env)
    write_reports(results)
    shutil.rmtree(work, ignore_errors=True)


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_stack(dir, wasm, components):
    """A git stack repo tagged v0.1.0 with `components`: (name, wasm file)."""
    import hashlib
    (dir / "components").mkdir(parents=True)
    lines = ["name: bench", "components:"]
    for name, file in components:
        target = dir / "components" / file
        if not target.exists():
            shutil.copy(wasm / file, target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        lines += [f"  - name: {name}", f"    path: components/{file}", f"    sha256: {digest}"]
    (dir / "stack.yaml").write_text("\n".join(lines) + "\n")
    git(dir, "init", "-q")
    git(dir, "add", "-A")
    git(dir, "commit", "-qm", "release")
    # A signed release, as publishers make them: every run checks it.
    key = release_key(dir.parent)
    git(dir, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "tag", "-s", "-m", "v0.1.0", "v0.1.0")


def release_key(work):
    """The bench's release-signing key (ssh-keygen), made once in `work`."""
    key = work / "release-key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def make_gitops(dir, stack, values):
    """A GitOps repository (a git work tree, as Flux pulls) with a cairn.yaml
    trusting the bench's release key."""
    dir.mkdir(parents=True)
    git(dir, "init", "-q")
    public = (release_key(stack.parent).with_suffix(".pub")).read_text().strip()
    (dir / "cairn.yaml").write_text(
        f"stack:\n  source: {stack}\n  version: v0.1.0\n  signers:\n    - {public}\nvalues:\n{values}")


def empty(dir):
    """Removes everything cairn wrote into `dir`, keeping cairn.yaml and git."""
    for entry in dir.iterdir():
        if entry.name not in ("cairn.yaml", ".git"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def stack_cases(case, cairn, wasm, work, env):
    """The stack of the end-to-end tests (app, gateway) and a
    50-component stack (copies of cert-manager), through generate, diff
    and verify."""
    helm = "helm template (default helm create chart)"
    make_stack(work / "stack", wasm, [("app", "app.wasm"), ("gateway", "gateway.wasm")])
    gitops = work / "gitops"
    values = "  app: {greeting: hi}\n  gateway: {domain: example.com}\n"
    make_gitops(gitops, work / "stack", values)
    config = gitops / "cairn.yaml"
    run = lambda *args: [cairn, *args, "--config", config]
    subprocess.run(run("generate"), check=True, env=env, stdout=subprocess.DEVNULL)

    case("cairn generate, nothing to change", run("generate"), helm, target="<= 0.5x helm time")
    flip = {"n": 0}

    def change_values():
        flip["n"] += 1
        config.write_text(config.read_text().replace("greeting: hi" if flip["n"] % 2 else "greeting: ho",
                                                     "greeting: ho" if flip["n"] % 2 else "greeting: hi"))
    case("cairn generate, after a values change", run("generate"), helm, setup=change_values)
    case("cairn diff, nothing to change", run("diff"), helm)
    case("cairn verify", run("verify"), helm)

    # Fifty copies of cert-manager, each in a namespace of its own (one
    # object may come from one component only), issuer off.
    make_stack(work / "stack50", wasm, [(f"cm-{i}", "cert_manager.wasm") for i in range(50)])
    gitops50 = work / "gitops50"
    make_gitops(gitops50, work / "stack50",
                "".join(f"  cm-{i}: {{namespace: cm-{i}, issuer: {{enabled: false}}}}\n" for i in range(50)))
    config50 = gitops50 / "cairn.yaml"

    def empty_repo():
        empty(gitops50)
    case("cairn generate, 50 components, into an empty repo", [cairn, "generate", "--config", config50], helm,
         setup=empty_repo)
    case("cairn generate, 50 components, nothing to change", [cairn, "generate", "--config", config50], helm)


def reference_cases(case, cairn, reference, work, env):
    """The full reference stack (Rust, JavaScript and Python components) and
    its Rust-only subset, cold and warm, plus the cold compile of the two
    large components on their own."""
    helm = "helm template (default helm create chart)"
    everything = ("  gateway: {domain: example.com}\n"
                  "  cert-manager: {issuer: {email: ops@example.com}}\n"
                  "  flux-sync: {enabled: true, url: 'ssh://git@github.com/acme/fleet.git', path: ./clusters/prod}\n"
                  "  oauth2-proxy: {enabled: true}\n")
    rust_only = ("  gateway: {domain: example.com}\n"
                 "  cert-manager: {issuer: {email: ops@example.com}}\n"
                 "  flux-sync: {enabled: true, url: 'ssh://git@github.com/acme/fleet.git', path: ./clusters/prod}\n"
                 "  oauth2-proxy: {enabled: false}\n"
                 "  namespaces: {enabled: false}\n")
    cold_runs = int(os.environ.get("BENCH_COLD_RUNS", "3"))

    for label, values in (("full reference stack", everything), ("Rust-only subset", rust_only)):
        gitops = work / f"reference-{len(values)}"
        gitops.mkdir()
        git(gitops, "init", "-q")
        (gitops / "cairn.yaml").write_text(f"stack:\n  source: {reference}\nvalues:\n{values}")

        def fresh_repo(gitops=gitops):
            empty(gitops)

        def fresh_repo_and_cache(fresh_repo=fresh_repo):
            fresh_repo()
            shutil.rmtree(work / "cache", ignore_errors=True)

        cmd = [cairn, "generate", "--config", gitops / "cairn.yaml"]
        case(f"cairn generate, {label}, cold cache", cmd, helm, setup=fresh_repo_and_cache, runs=cold_runs)
        target = "<= 1x helm time" if label.startswith("full") else "<= 0.5x helm time"
        case(f"cairn generate, {label}, warm, into an empty repo", cmd, helm, setup=fresh_repo, target=target)
        case(f"cairn generate, {label}, warm, nothing to change", cmd, helm)

    # The Rust-only subset again, with Grafana's admin password given as a
    # reference and its Secret sealed with SOPS for an age identity made
    # here (with it, an unchanged Secret keeps its ciphertext).
    identity = work / "age.key"
    subprocess.run(["age-keygen", "-o", identity], check=True, stderr=subprocess.DEVNULL)
    recipient = next(line.split(": ", 1)[1] for line in identity.read_text().splitlines()
                     if line.startswith("# public key: "))
    env["CAIRN_BENCH_PASSWORD"] = "bench-password-123"
    env["SOPS_AGE_KEY_FILE"] = str(identity)
    sealed = work / "reference-sealed"
    sealed.mkdir()
    git(sealed, "init", "-q")
    (sealed / "cairn.yaml").write_text(
        f"stack:\n  source: {reference}\nvalues:\n{rust_only}"
        "  grafana: {adminPassword: {env: CAIRN_BENCH_PASSWORD}}\n"
        f"secrets:\n  age: [{recipient}]\n")

    def fresh_sealed():
        empty(sealed)
    cmd = [cairn, "generate", "--config", sealed / "cairn.yaml"]
    case("cairn generate, Rust-only subset + a sealed Secret, warm, into an empty repo", cmd,
         "cairn generate, Rust-only subset, warm, into an empty repo", setup=fresh_sealed)
    case("cairn generate, Rust-only subset + a sealed Secret, warm, nothing to change", cmd,
         "cairn generate, Rust-only subset, warm, nothing to change")

    def empty_cache():
        shutil.rmtree(work / "cache", ignore_errors=True)
    for name in ("oauth2-proxy", "namespaces"):
        wasm = reference / "components" / f"{name}.wasm"
        size = wasm.stat().st_size / 1e6
        case(f"cairn inspect {name} ({size:.0f} MB), cold compile", [cairn, "inspect", wasm], helm,
             setup=empty_cache, runs=cold_runs)
        case(f"cairn inspect {name}, warm", [cairn, "inspect", wasm], helm)


def fleet_cases(case, scaled, cairn, reference, work, env):
    """A GitOps repository of clusters on the full reference stack, each
    with values of its own and values shared by all: one cluster with
    nothing to change, the whole fleet with nothing to change and after a
    shared value changed, and a first run on a new machine."""
    helm = "helm template (default helm create chart)"
    runs = int(os.environ.get("BENCH_FLEET_RUNS", "5"))
    for n in (100, 500):
        repo = work / f"fleet{n}"
        (repo / "shared").mkdir(parents=True)
        git(repo, "init", "-q")
        shared = repo / "shared" / "values.yaml"
        shared.write_text("values:\n  cert-manager: {issuer: {email: ops@example.com}}\n"
                          "  logs: {retention: 336h}\n  oauth2-proxy: {enabled: true}\n")
        for i in range(n):
            cluster = repo / "clusters" / f"c{i:03}"
            cluster.mkdir(parents=True)
            (cluster / "cairn.yaml").write_text(
                f"stack:\n  source: {reference}\ninclude: [../../shared/values.yaml]\nvalues:\n"
                f"  gateway: {{domain: c{i}.example.com}}\n"
                f"  metrics: {{retention: {i % 30 + 1}d}}\n")
        fleet = [cairn, "generate", "--all"]
        subprocess.run(fleet, cwd=repo, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if n == 100:
            one = repo / "clusters" / "c007" / "cairn.yaml"
            case("cairn generate, one cluster of a fleet, nothing to change",
                 [cairn, "generate", "--config", one], helm, target="<= 0.15x helm time, RSS below helm")
            case("cairn verify, one cluster of a fleet",
                 [cairn, "verify", "--config", one], helm, target="<= 0.15x helm time, RSS below helm")
        times_n = scaled(helm, n)
        cwd_fleet = ["sh", "-c", f"cd {repo} && exec {cairn} generate --all"]
        case(f"cairn generate --all, {n} clusters, nothing to change", cwd_fleet, times_n, runs=runs,
             target="<= 0.05x helm x 500" if n == 500 else None)
        flip = {"n": 0}

        def change_shared(shared=shared, flip=flip):
            flip["n"] += 1
            old, new = ("336h", "168h") if flip["n"] % 2 else ("168h", "336h")
            shared.write_text(shared.read_text().replace(old, new))
        case(f"cairn generate --all, {n} clusters, a shared value changed", cwd_fleet, times_n,
             setup=change_shared, runs=runs)
        shutil.rmtree(repo, ignore_errors=True)

    # A new machine: no compiled components, no memo. init compiles every
    # component of the stack; the first generate renders them.
    first = work / "first"
    cold_runs = int(os.environ.get("BENCH_COLD_RUNS", "3"))
    values = ("  cert-manager: {issuer: {email: ops@example.com}}\n"
              "  gateway: {domain: example.com}\n  oauth2-proxy: {enabled: true}\n")

    def new_machine():
        shutil.rmtree(work / "cache", ignore_errors=True)
        shutil.rmtree(first, ignore_errors=True)
        (first / "repo").mkdir(parents=True)
        git(first / "repo", "init", "-q")
        (first / "repo" / "cairn.yaml").write_text(f"stack:\n  source: {reference}\nvalues:\n{values}")
    script = (f"{cairn} init {reference} --path {first}/init >/dev/null && "
              f"exec {cairn} generate --config {first}/repo/cairn.yaml")
    case("cairn init + first generate, full reference stack, cold cache", ["sh", "-c", script], helm,
         setup=new_machine, runs=cold_runs, target="< 5 s on 2 cores")


def write_reports(results):
    by_name = {r["case"]: r for r in results}
    out = Path("target/bench")
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| case | median | peak RSS | time vs reference | RSS vs reference | target |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        if r.get("derived"):
            continue
        ref = by_name.get(r["reference"])
        t_ratio = f"{r['median_ms'] / ref['median_ms']:.2f}x {short(r['reference'])}" if ref else "reference"
        m_ratio = f"{r['peak_rss_kib'] / ref['peak_rss_kib']:.2f}x" if ref else ""
        lines.append(f"| {r['case']} | {r['median_ms']:.1f} ms | {r['peak_rss_kib'] / 1024:.1f} MiB "
                     f"| {t_ratio} | {m_ratio} | {r['target'] or ''} |")
    table = "\n".join(lines) + "\n"
    (out / "results.md").write_text(table)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table)


def short(name):
    if name.startswith("helm"):
        return "helm" + (name[name.index(" x "):] if " x " in name else "")
    return name.replace("cairn render, ", "")


if __name__ == "__main__":
    main()
