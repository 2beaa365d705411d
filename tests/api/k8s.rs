//! The Kubernetes manifests of `deploy/k8s`: every kustomization lists exactly the YAML files of its
//! directory, every manifest passes `kubernetes-validate --strict` against Kubernetes 1.30, every
//! environment variable they set is one the server reads (the table of `src/config.rs`), the
//! shutdown timing of the Deployment adds up, and (when kubectl is there) the kustomizations render
//! to objects that validate too. No database, no cluster: plain file checks.
//!
//! The manifests are written in a fixed, simple YAML style (block style, one key per line), so a
//! line-based reading is enough here and no YAML crate is needed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Variables the manifests may set before `src/config.rs` documents them: the lead is adding
/// them (read replicas; the PgBouncer-safe statement cache switch). Remove each one from here once
/// the table of `src/config.rs` lists it.
const PENDING: &[&str] = &["DATABASE_REPLICA_URLS", "DATABASE_STATEMENT_CACHE"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn k8s_dir() -> PathBuf {
    root().join("deploy/k8s")
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Every directory under `deploy/k8s` (itself included), sorted.
fn dirs() -> Vec<PathBuf> {
    let mut out = vec![k8s_dir()];
    let mut i = 0;
    while i < out.len() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(&out[i])
            .unwrap_or_else(|e| panic!("reading {}: {e}", out[i].display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        children.sort();
        out.extend(children);
        i += 1;
    }
    out
}

/// The YAML files directly in `dir`, by file name, sorted.
fn yaml_files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && is_yaml(p))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Every manifest (every YAML file under `deploy/k8s` but the kustomizations), sorted.
fn manifests() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = dirs()
        .iter()
        .flat_map(|d| {
            yaml_files_in(d)
                .into_iter()
                .filter(|f| f != "kustomization.yaml")
                .map(|f| d.join(f))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "no manifests found in {}",
        k8s_dir().display()
    );
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The entries of the top-level `resources:` list of a kustomization.
fn kustomization_resources(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('-') {
            inside = line.trim_end() == "resources:";
            continue;
        }
        if inside {
            if let Some(item) = line.trim().strip_prefix("- ") {
                out.push(unquote(item).to_owned());
            }
        }
    }
    out
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(s)
}

#[test]
fn every_kustomization_lists_exactly_the_yaml_files_of_its_directory() {
    let mut kustomizations = 0;
    for dir in dirs() {
        let rel = dir.strip_prefix(root()).unwrap().display().to_string();
        let files = yaml_files_in(&dir);
        let kustomization = dir.join("kustomization.yaml");
        if !kustomization.exists() {
            // Only examples (placeholder Secrets) live outside a kustomization, so that
            // `kubectl apply -k` never applies them.
            assert!(
                dir.file_name().is_some_and(|n| n == "examples"),
                "{rel} has no kustomization.yaml: only deploy/k8s/**/examples may hold manifests that no kustomization applies"
            );
            continue;
        }
        kustomizations += 1;
        let listed = kustomization_resources(&read(&kustomization));
        let listed_set: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(
            listed.len(),
            listed_set.len(),
            "{rel}/kustomization.yaml lists a resource twice: {listed:?}"
        );
        let present: BTreeSet<String> = files
            .into_iter()
            .filter(|f| f != "kustomization.yaml")
            .collect();
        let missing: Vec<_> = present.difference(&listed_set).collect();
        let dangling: Vec<_> = listed_set.difference(&present).collect();
        assert!(
            missing.is_empty() && dangling.is_empty(),
            "{rel}/kustomization.yaml must list exactly the YAML files of {rel}: \
             present but not listed: {missing:?}; listed but not present (or not a YAML file here): {dangling:?}"
        );
    }
    assert!(
        kustomizations >= 2,
        "expected deploy/k8s/kustomization.yaml and deploy/k8s/migrate/kustomization.yaml"
    );
}

/// The `kubernetes-validate` executable: `BOOKSTORE_K8S_VALIDATE` (exported by scripts/test.sh),
/// else the venv that `scripts/tools.sh kubernetes-validate` makes.
fn kubernetes_validate() -> PathBuf {
    if let Some(path) = std::env::var_os("BOOKSTORE_K8S_VALIDATE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "BOOKSTORE_K8S_VALIDATE={} does not exist: run `bash scripts/tools.sh kubernetes-validate` \
             (or `make test`, which installs it), or unset BOOKSTORE_K8S_VALIDATE",
            path.display()
        );
        return path;
    }
    let default = root().join("target/tools-venv/bin/kubernetes-validate");
    assert!(
        default.is_file(),
        "kubernetes-validate not found: set BOOKSTORE_K8S_VALIDATE to its path, or install it with \
         `bash scripts/tools.sh kubernetes-validate` (a venv in {}; `make test` does this)",
        default.parent().unwrap().parent().unwrap().display()
    );
    default
}

#[test]
fn every_manifest_passes_kubernetes_validate_strict_for_1_30() {
    // Relative paths: the tool's report names the files as it was given them.
    let files: Vec<PathBuf> = manifests()
        .iter()
        .map(|f| f.strip_prefix(root()).unwrap().to_owned())
        .collect();
    let output = Command::new(kubernetes_validate())
        .args(["-k", "1.30.0", "--strict"])
        .args(&files)
        .current_dir(root())
        .output()
        .expect("running kubernetes-validate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = format!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "kubernetes-validate -k 1.30.0 --strict failed ({}):\n{report}",
        output.status
    );
    for line in report.lines() {
        assert!(
            !(line.starts_with("ERROR") || line.starts_with("WARN")),
            "kubernetes-validate reported a problem:\n{report}"
        );
    }
    for file in &files {
        let rel = file.display().to_string();
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("INFO {rel} passed"))),
            "kubernetes-validate did not report {rel} as passed:\n{report}"
        );
    }
}

/// The variables the server reads: the first cell of every row of the `//!` table of
/// `src/config.rs` (`` `A`, `B` `` rows name several; `` `..._X` `` repeats the prefix of the
/// row's first name), plus `RUST_LOG`.
fn documented_variables() -> BTreeSet<String> {
    let text = read(&root().join("src/config.rs"));
    let mut out = BTreeSet::from(["RUST_LOG".to_owned()]);
    for line in text.lines() {
        let Some(row) = line.strip_prefix("//! | `") else {
            continue;
        };
        let first_cell = row.split(" |").next().unwrap();
        let cell = format!("`{first_cell}");
        let names: Vec<&str> = cell
            .split('`')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != ",")
            .collect();
        let Some(first) = names.first() else { continue };
        for name in &names {
            if let Some(tail) = name.strip_prefix("...") {
                let prefix = &first[..first.rfind('_').expect("a prefix before `_`")];
                out.insert(format!("{prefix}{tail}"));
            } else {
                out.insert((*name).to_owned());
            }
        }
    }
    assert!(
        out.contains("DATABASE_URL") && out.contains("BOOKSTORE_GRAPHQL_COMPLEXITY"),
        "the table of src/config.rs was not read as expected: {out:?}"
    );
    out
}

fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Environment variable names a manifest sets: `name:` of `env` entries, `key:` of
/// `secretKeyRef`/`configMapKeyRef`, and the keys of ConfigMap `data` and Secret
/// `stringData`/`data`. Kubernetes' own field names are camelCase and its object names lower case,
/// so an upper-case identifier in those places is a variable.
fn variables_set_by(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("- ").unwrap_or(line);
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = unquote(value);
        if (key == "name" || key == "key") && is_variable_name(value) {
            out.insert(value.to_owned());
        } else if is_variable_name(key) {
            out.insert(key.to_owned());
        }
    }
    out
}

#[test]
fn manifests_set_only_variables_the_server_reads() {
    let known = documented_variables();
    let mut seen = BTreeSet::new();
    let mut unknown = Vec::new();
    for file in manifests() {
        let rel = file.strip_prefix(root()).unwrap().display().to_string();
        for name in variables_set_by(&read(&file)) {
            if !known.contains(&name) && !PENDING.contains(&name.as_str()) {
                unknown.push(format!("{rel}: {name}"));
            }
            seen.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "the manifests set variables that src/config.rs does not document (the server ignores them):\n  {}",
        unknown.join("\n  ")
    );
    for needed in [
        "DATABASE_URL",
        "JWT_SECRET",
        "REDIS_URL",
        "BOOKSTORE_ADDR",
        "BOOKSTORE_MIGRATE",
        "BOOKSTORE_ENV",
    ] {
        assert!(
            seen.contains(needed),
            "no manifest sets {needed} (or the line-based reading missed it); seen: {seen:?}"
        );
    }
}

/// The value of the first `key: value` line after the line that contains `anchor`.
fn value_after(text: &str, anchor: &str, key: &str) -> String {
    let start = text
        .find(anchor)
        .unwrap_or_else(|| panic!("`{anchor}` not found"));
    text[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")).map(unquote))
        .unwrap_or_else(|| panic!("no `{key}:` after `{anchor}`"))
        .to_owned()
}

#[test]
fn deployment_shutdown_timing_adds_up_and_replicas_never_migrate() {
    let text = read(&k8s_dir().join("deployment.yaml"));
    let number = |s: &str| -> u64 { s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")) };
    let grace = number(&value_after(
        &text,
        "spec:",
        "terminationGracePeriodSeconds",
    ));
    let shutdown = number(&value_after(
        &text,
        "name: BOOKSTORE_SHUTDOWN_TIMEOUT_SECS",
        "value",
    ));
    let pre_stop = text[text.find("preStop:").expect("a preStop hook")..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("command: [\"/bin/sleep\", \""))
        .and_then(|rest| rest.strip_suffix("\"]"))
        .map(number)
        .expect("preStop: exec: command: [\"/bin/sleep\", \"N\"]");
    assert!(
        pre_stop >= 1 && grace > pre_stop + shutdown,
        "terminationGracePeriodSeconds ({grace}) must exceed the preStop pause ({pre_stop}) + \
         BOOKSTORE_SHUTDOWN_TIMEOUT_SECS ({shutdown}), or Kubernetes kills in-flight requests"
    );
    assert_eq!(
        value_after(&text, "name: BOOKSTORE_MIGRATE", "value"),
        "off",
        "replicas must not migrate (the Job does)"
    );
    assert_eq!(
        value_after(&text, "name: BOOKSTORE_ADDR", "value"),
        "0.0.0.0:3000"
    );
}

/// `kubectl kustomize` (kustomize built into kubectl, offline) renders every kustomization, and the
/// result passes the same validation: this checks the kustomizations themselves (labels, namespace,
/// images). kubectl is not one of the tools `make test` installs (Debian has no package for it), so
/// without it on PATH (or `BOOKSTORE_KUBECTL`) this check says so and passes; the file-by-file
/// validation above still runs.
#[test]
fn kustomizations_render_with_kubectl_and_the_result_validates() {
    let kubectl = std::env::var_os("BOOKSTORE_KUBECTL")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"));
    let probe = Command::new(&kubectl)
        .args(["version", "--client"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "kubectl not found ({}): rendering of the kustomizations not checked",
            kubectl.display()
        );
        return;
    }
    let validate = kubernetes_validate();
    for dir in dirs()
        .into_iter()
        .filter(|d| d.join("kustomization.yaml").exists())
    {
        let rel = dir.strip_prefix(root()).unwrap().display().to_string();
        let rendered = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&dir)
            .output()
            .expect("running kubectl kustomize");
        assert!(
            rendered.status.success(),
            "kubectl kustomize {rel} failed:\n{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let text = String::from_utf8(rendered.stdout).unwrap();
        let listed = kustomization_resources(&read(&dir.join("kustomization.yaml")));
        assert_eq!(
            text.matches("\nkind: ").count() + usize::from(text.starts_with("kind: ")),
            listed.len(),
            "kubectl kustomize {rel} did not render one object per listed file:\n{text}"
        );
        let out_dir = root().join("target/k8s-rendered");
        std::fs::create_dir_all(&out_dir).unwrap();
        let file = out_dir.join(format!("{}.yaml", rel.replace('/', "_")));
        std::fs::write(&file, &text).unwrap();
        let output = Command::new(&validate)
            .args(["-k", "1.30.0", "--strict"])
            .arg(&file)
            .output()
            .expect("running kubernetes-validate");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success()
                && !report
                    .lines()
                    .any(|l| l.starts_with("ERROR") || l.starts_with("WARN")),
            "the rendering of {rel} does not validate:\n{report}"
        );
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("image:"))
        {
            assert!(
                line.contains("registry.example.com/bookstore:"),
                "{rel}: the `images` override of the kustomization did not apply: {line}"
            );
        }
    }
}
