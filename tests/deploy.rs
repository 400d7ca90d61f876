//! The `deploy/` manifests against the real binary's CLI: the ConfigMap's `config.yaml` passes `check` (with its
//! CIDR-group files laid out exactly as the DaemonSet's volume `items` place them), its keys are `run` options, the
//! CIDR-group examples load and answer lookups, the sidecar's argument list is a valid `run` configuration,
//! every `--flag` given to `hubble-ingest` anywhere under `deploy/` (manifest args, scripts, README commands) exists
//! in that subcommand's `--help`, the DaemonSet agrees with its config and rbac.yaml, fluent-bit.yaml's YAML and
//! classic Fluent Bit configurations agree and point at the forward DaemonSet, whose exact arguments accept an
//! authenticated TLS Forward chunk (a Python msgpack client) and deliver it.

mod support;

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where daemonset.yaml mounts the ConfigMap; config.yaml's paths into it are rewritten to a temp dir.
const CONFIG_MOUNT: &str = "/etc/hubble-ingest";
const CONFIGMAP_NAME: &str = "hubble-ingest";

/// Flags in deploy/ that belong to other tools (docker, cargo, kubectl, az), not to hubble-ingest.
const FOREIGN_FLAGS: &[(&str, &str)] = &[
    ("mount", "Dockerfile RUN --mount"),
    ("from", "Dockerfile COPY --from"),
    ("release", "cargo build"),
    ("locked", "cargo build"),
    ("bin", "cargo build"),
    ("patch-file", "kubectl patch"),
    ("tail", "kubectl logs"),
    ("enable-oidc-issuer", "az aks update"),
    ("enable-workload-identity", "az aks update"),
    ("enable-streaming-ingest", "az kusto cluster update"),
    ("query", "az"),
    ("identity-name", "az identity federated-credential create"),
    ("issuer", "az identity federated-credential create"),
    ("subject", "az identity federated-credential create"),
    ("audience", "az identity federated-credential create"),
    ("from-literal", "kubectl create secret"),
    ("from-file", "kubectl create secret"),
];

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hubble-ingest"));
    // The test's own environment must not leak options or credentials into the checks.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("HUBBLE_INGEST_") || k.starts_with("AZURE_") {
            c.env_remove(k);
        }
    }
    c
}

fn exec(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().expect("run hubble-ingest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(deploy_dir().join(name))
        .unwrap_or_else(|e| panic!("read deploy/{name}: {e}"))
}

fn yaml_docs(name: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(&read(name))
        .unwrap_or_else(|e| panic!("deploy/{name} is not valid YAML: {e}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

fn configmap_data() -> Map<String, Value> {
    yaml_docs("configmap.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == CONFIGMAP_NAME)
        .and_then(|d| d["data"].as_object().cloned())
        .expect("configmap.yaml has the hubble-ingest ConfigMap with data")
}

fn data_str<'a>(data: &'a Map<String, Value>, key: &str) -> &'a str {
    data.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("ConfigMap key {key} missing or not a string"))
}

/// Every object under `v` (depth first) that has `key`.
fn objects_with<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Map<String, Value>>) {
    match v {
        Value::Object(m) => {
            if m.contains_key(key) {
                out.push(m);
            }
            for x in m.values() {
                objects_with(x, key, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| objects_with(x, key, out)),
        _ => {}
    }
}

/// `(key, path)` items of every volume in `file` that projects the hubble-ingest ConfigMap, with the mount path of
/// that volume in the pod's containers.
fn configmap_items(file: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for doc in yaml_docs(file) {
        let mut specs = Vec::new();
        objects_with(&doc, "volumes", &mut specs);
        for spec in specs {
            for vol in spec["volumes"].as_array().into_iter().flatten() {
                if vol["configMap"]["name"] != CONFIGMAP_NAME {
                    continue;
                }
                let vol_name = &vol["name"];
                let items: Vec<(String, String)> = vol["configMap"]["items"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{file}: the ConfigMap volume must list items"))
                    .iter()
                    .map(|i| {
                        (
                            i["key"].as_str().unwrap_or_default().to_owned(),
                            i["path"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                let mut containers = Vec::new();
                for v in spec.values() {
                    objects_with(v, "volumeMounts", &mut containers);
                }
                for c in containers {
                    for m in c["volumeMounts"].as_array().into_iter().flatten() {
                        if m["name"] == *vol_name {
                            let mount = m["mountPath"].as_str().unwrap_or_default().to_owned();
                            out.push((mount, items.clone()));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Writes the ConfigMap keys to `root` as the volume `items` lay them out.
fn materialize(root: &Path, data: &Map<String, Value>, items: &[(String, String)]) {
    for (key, path) in items {
        let dest = root.join(path);
        std::fs::create_dir_all(dest.parent().expect("item path has a parent")).unwrap();
        std::fs::write(&dest, data_str(data, key)).unwrap();
    }
}

fn daemonset_layout() -> Vec<(String, String)> {
    let mounts = configmap_items("daemonset.yaml");
    assert_eq!(
        mounts.len(),
        1,
        "daemonset.yaml mounts the ConfigMap once: {mounts:?}"
    );
    let (mount, items) = mounts.into_iter().next().unwrap();
    assert_eq!(mount, CONFIG_MOUNT);
    items
}

/// Long options of one subcommand's `--help`: name → takes a value; plus the environment variables it names.
struct Help {
    longs: BTreeMap<String, bool>,
    envs: BTreeSet<String>,
}

fn help(sub: &str) -> Help {
    let (out, text) = exec(bin().args([sub, "--help"]));
    assert!(out.status.success(), "{sub} --help failed: {text}");
    let mut longs = BTreeMap::new();
    let mut envs = BTreeSet::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        // Option lines are indented by 2 (`-x, --long`) or 6 (`--long`); wrapped help text by 10.
        if indent <= 6 && trimmed.starts_with('-') {
            let tokens: Vec<&str> = trimmed.split_whitespace().collect();
            if let Some(i) = tokens.iter().position(|t| t.starts_with("--")) {
                let name = tokens[i].trim_start_matches("--").trim_end_matches("...");
                let takes_value = tokens.get(i + 1).is_some_and(|t| t.starts_with('<'));
                longs.insert(name.to_owned(), takes_value);
            }
        }
        if let Some(rest) = trimmed.strip_prefix("[env: ") {
            envs.insert(rest.split('=').next().unwrap_or_default().to_owned());
        }
    }
    assert!(longs.len() > 3, "{sub} --help lists options: {text}");
    Help { longs, envs }
}

fn subcommands() -> BTreeSet<String> {
    let (_, text) = exec(bin().arg("--help"));
    let subs: BTreeSet<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .map(str::to_owned)
        .collect();
    assert!(subs.contains("run") && subs.contains("check"), "{subs:?}");
    subs
}

/// A `hubble-ingest <sub> --flag ...` command found in a deploy file.
#[derive(Debug)]
struct Invocation {
    sub: String,
    flags: Vec<String>,
    at: String,
}

fn flag_name(token: &str) -> Option<String> {
    let rest = token.strip_prefix("--")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        .then_some(name)
}

fn clean(token: &str) -> &str {
    token.trim_matches(|c: char| matches!(c, '`' | '"' | '\'' | ',' | '[' | ']' | '(' | ')' | '$'))
}

fn is_hubble_ingest(token: &str) -> bool {
    clean(token).rsplit('/').next() == Some("hubble-ingest")
}

/// Commands in free text (scripts, README code, comments): logical lines joined at trailing `\`; a command
/// ends at a shell operator, a redirection or the end of an inline code span.
fn text_invocations(name: &str, text: &str, subs: &BTreeSet<String>) -> Vec<Invocation> {
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i + 1;
        }
        let t = line.trim_end();
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                logical.push((start, std::mem::take(&mut cur)));
            }
        }
    }
    let mut out = Vec::new();
    for (line_no, l) in logical {
        let tokens: Vec<&str> = l.split_whitespace().collect();
        for i in 0..tokens.len() {
            let Some(sub_tok) = tokens.get(i + 1) else {
                break;
            };
            if !is_hubble_ingest(tokens[i]) || tokens[i].ends_with('`') {
                continue;
            }
            let sub = clean(sub_tok);
            if !subs.contains(sub) {
                continue;
            }
            let mut flags = Vec::new();
            if !sub_tok.ends_with('`') {
                for tok in &tokens[i + 2..] {
                    if matches!(*tok, "|" | "||" | "&&" | ";" | "&")
                        || tok.starts_with(['<', '>', '#'])
                        || tok.starts_with("2>")
                    {
                        break;
                    }
                    if let Some(f) = flag_name(clean(tok)) {
                        flags.push(f);
                    }
                    if tok.ends_with('`') {
                        break;
                    }
                }
            }
            out.push(Invocation {
                sub: sub.to_owned(),
                flags,
                at: format!("deploy/{name}:{line_no}"),
            });
        }
    }
    out
}

/// argv of every container that runs hubble-ingest directly: `command` + `args`, or the image's ENTRYPOINT (the
/// binary) + `args` for a hubble-ingest image without `command`.
fn container_argvs(name: &str) -> Vec<(String, Vec<String>)> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| s.to_string())
            })
            .collect()
    };
    let mut out = Vec::new();
    if !name.ends_with(".yaml") {
        return out;
    }
    for doc in yaml_docs(name) {
        let mut holders = Vec::new();
        objects_with(&doc, "containers", &mut holders);
        for h in holders {
            for c in h["containers"].as_array().into_iter().flatten() {
                let image = c["image"].as_str().unwrap_or_default();
                let command = strings(&c["command"]);
                let args = strings(&c["args"]);
                let argv: Vec<String> = if !command.is_empty() {
                    command.into_iter().chain(args).collect()
                } else if image
                    .rsplit('/')
                    .next()
                    .is_some_and(|i| i.starts_with("hubble-ingest:"))
                {
                    std::iter::once("hubble-ingest".to_owned())
                        .chain(args)
                        .collect()
                } else {
                    continue;
                };
                if argv.first().is_some_and(|a| is_hubble_ingest(a)) {
                    let who = format!("deploy/{name}: container {}", c["name"]);
                    out.push((who, argv));
                }
            }
        }
    }
    out
}

fn deploy_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .expect("deploy/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn write_token(dir: &Path) -> PathBuf {
    let token = dir.join("azure-identity-token");
    std::fs::write(&token, "header.payload.signature\n").unwrap();
    token
}

fn with_fake_workload_identity(cmd: &mut Command, token: &Path) {
    cmd.env("AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111")
        .env("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222")
        .env("AZURE_FEDERATED_TOKEN_FILE", token);
}

#[test]
fn configmap_config_passes_check_with_its_cidr_groups() {
    let data = configmap_data();
    let items = daemonset_layout();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("etc-hubble-ingest");
    materialize(&root, &data, &items);

    let config = data_str(&data, "config.yaml");
    assert!(
        config.contains(&format!("{CONFIG_MOUNT}/cidr-groups")),
        "config.yaml reads CIDR groups from the mounted ConfigMap"
    );
    let rewritten = config.replace(CONFIG_MOUNT, &root.display().to_string());
    let config_path = root.join("config.yaml");
    std::fs::write(&config_path, rewritten).unwrap();
    let token = write_token(dir.path());

    let mut cmd = bin();
    cmd.arg("check").arg("--config").arg(&config_path);
    with_fake_workload_identity(&mut cmd, &token);
    let (out, text) = exec(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok: config"), "{text}");
    assert!(
        text.contains("sinks [Adx]"),
        "the shipped config uses the ADX sink: {text}"
    );
    assert!(text.contains("ok: filters"), "{text}");
    assert!(
        text.contains("ok: cidr-groups: 3 groups"),
        "geo-ru, azure-imds and blocklist-abuse load from the cidr-groups dir: {text}"
    );
    assert!(!text.contains("error:"), "{text}");

    // The ADX settings really are validated: without the workload identity variables the same file fails.
    let (out, text) = exec(bin().arg("check").arg("--config").arg(&config_path));
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("AZURE_TENANT_ID"), "{text}");
}

#[test]
fn every_configmap_volume_projects_existing_keys_into_the_same_layout() {
    let data = configmap_data();
    let reference = daemonset_layout();
    for file in ["daemonset.yaml", "fluent-bit.yaml"] {
        let mounts = configmap_items(file);
        assert!(!mounts.is_empty(), "{file} mounts the ConfigMap");
        for (mount, items) in mounts {
            assert_eq!(mount, CONFIG_MOUNT, "{file}");
            assert_eq!(
                items, reference,
                "{file} lays the ConfigMap out like daemonset.yaml"
            );
            for (key, _) in &items {
                assert!(
                    data.contains_key(key),
                    "{file}: item key {key} is not in the ConfigMap"
                );
            }
        }
    }
    // Every key except config.yaml is a CIDR-group file and is projected somewhere under cidr-groups/.
    for key in data.keys().filter(|k| *k != "config.yaml") {
        assert!(
            reference
                .iter()
                .any(|(k, p)| k == key && p.starts_with("cidr-groups/")),
            "ConfigMap key {key} is not mounted under cidr-groups/ by daemonset.yaml"
        );
    }
}

#[test]
fn configmap_config_keys_are_run_options() {
    let data = configmap_data();
    let config: Value =
        serde_saphyr::from_str(data_str(&data, "config.yaml")).expect("config.yaml is YAML");
    let map = config.as_object().expect("config.yaml is a mapping");
    let run = help("run");
    for key in map.keys() {
        let long = key.replace('_', "-");
        assert!(
            run.longs.contains_key(&long),
            "config.yaml key {key} is not a `run` option"
        );
    }
    for required in [
        "input",
        "format",
        "state-dir",
        "sink",
        "cidr-groups",
        "metrics-addr",
        "adx-cluster",
        "adx-database",
        "adx-table",
        "adx-mapping",
        "adx-auth",
        "flush-interval",
        "spool-max-bytes",
    ] {
        assert!(map.contains_key(required), "config.yaml sets {required}");
    }
    assert_eq!(map["adx-auth"], "workload-identity");
    assert_eq!(map["metrics-addr"], "0.0.0.0:9090");
}

#[test]
fn cidr_group_examples_load_and_answer_lookups() {
    let data = configmap_data();
    let dir = tempfile::tempdir().unwrap();
    materialize(dir.path(), &data, &daemonset_layout());
    let groups = dir.path().join("cidr-groups");

    let (out, text) = exec(bin().arg("check").arg("--cidr-groups").arg(&groups));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok: cidr-groups: 3 groups"), "{text}");

    let (out, text) = exec(
        bin()
            .arg("cidr-lookup")
            .arg("--cidr-groups")
            .arg(&groups)
            .args(["203.0.113.70", "169.254.169.254", "8.8.8.8"]),
    );
    assert!(out.status.success(), "{text}");
    let answers: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per IP"))
        .collect();
    assert_eq!(answers.len(), 3, "{text}");
    // The /26 of the plain list is more specific than geo-ru's /24; the list's group is its file stem.
    assert_eq!(
        answers[0]["groups"],
        serde_json::json!(["blocklist-abuse", "geo-ru"]),
        "{text}"
    );
    assert_eq!(answers[0]["labels"]["geo"], "ru", "{text}");
    assert_eq!(
        answers[1]["groups"],
        serde_json::json!(["azure-imds"]),
        "{text}"
    );
    assert_eq!(answers[1]["labels"]["provider"], "azure", "{text}");
    assert_eq!(answers[2]["groups"], serde_json::json!([]), "{text}");
}

#[test]
fn every_hubble_ingest_flag_in_deploy_files_exists() {
    let subs = subcommands();
    let helps: BTreeMap<String, Help> = subs.iter().map(|s| (s.clone(), help(s))).collect();
    let all_longs: BTreeSet<&String> = helps.values().flat_map(|h| h.longs.keys()).collect();
    let all_envs: BTreeSet<&String> = helps.values().flat_map(|h| &h.envs).collect();

    let mut errors = Vec::new();
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for path in deploy_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();

        let mut invocations = text_invocations(&name, &text, &subs);
        for (who, argv) in container_argvs(&name) {
            match argv.get(1).filter(|s| subs.contains(s.as_str())) {
                Some(sub) => invocations.push(Invocation {
                    sub: sub.clone(),
                    flags: argv[2..].iter().filter_map(|a| flag_name(a)).collect(),
                    at: who,
                }),
                None => errors.push(format!("{who}: {argv:?} does not start with a subcommand")),
            }
        }
        *found.entry(name.clone()).or_default() += invocations.len();
        for inv in &invocations {
            let h = &helps[&inv.sub];
            for f in &inv.flags {
                if !h.longs.contains_key(f) {
                    errors.push(format!(
                        "{}: `hubble-ingest {}` has no option --{f}",
                        inv.at, inv.sub
                    ));
                }
            }
        }

        // Any other `--flag` in the file (prose, comments, other tools' commands) must be a hubble-ingest option
        // of some subcommand or a known flag of another tool: catches misspelt options in documentation.
        for (i, line) in text.lines().enumerate() {
            for tok in line.split_whitespace() {
                let Some(f) = flag_name(clean(tok)) else {
                    continue;
                };
                if !all_longs.contains(&f) && !FOREIGN_FLAGS.iter().any(|(n, _)| *n == f) {
                    errors.push(format!("deploy/{name}:{}: unknown flag --{f}", i + 1));
                }
            }
            let mut rest = line;
            while let Some(pos) = rest.find("HUBBLE_INGEST_") {
                let var: String = rest[pos..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                let var = var.trim_end_matches('_').to_owned();
                if var != "HUBBLE_INGEST" && !all_envs.contains(&var) {
                    errors.push(format!("deploy/{name}:{}: unknown variable {var}", i + 1));
                }
                rest = &rest[pos + "HUBBLE_INGEST_".len()..];
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The scan must actually see the commands (a parser that finds nothing would pass vacuously).
    for (file, min) in [
        ("daemonset.yaml", 1),
        ("sidecar.yaml", 1),
        ("fluent-bit.yaml", 1),
        ("fluentd.conf", 1),
        ("README.md", 5),
    ] {
        let n = found.get(file).copied().unwrap_or(0);
        assert!(
            n >= min,
            "deploy/{file}: found {n} hubble-ingest commands, expected at least {min}: {found:?}"
        );
    }
}

#[test]
fn sidecar_arguments_are_a_valid_run_configuration() {
    let argvs = container_argvs("sidecar.yaml");
    assert_eq!(argvs.len(), 1, "{argvs:?}");
    let (_, argv) = &argvs[0];
    assert_eq!(argv[1], "run");
    let run = help("run");

    // The same options as a config file (flag → key, repeated flags → a list), validated by `check --config`
    // with the same value parsers as the command line.
    let mut config: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut i = 2;
    while i < argv.len() {
        let name = flag_name(&argv[i])
            .unwrap_or_else(|| panic!("sidecar: expected a flag at {:?}", argv[i]));
        let takes_value = *run
            .longs
            .get(&name)
            .unwrap_or_else(|| panic!("sidecar: --{name} is not a run option"));
        if takes_value {
            let v = argv
                .get(i + 1)
                .unwrap_or_else(|| panic!("sidecar: --{name} needs a value"));
            config
                .entry(name)
                .or_default()
                .push(Value::String(v.clone()));
            i += 2;
        } else {
            config.entry(name).or_default().push(Value::Bool(true));
            i += 1;
        }
    }
    assert_eq!(
        config["input"],
        vec![Value::String("/var/run/cilium/hubble/events*.log*".into())]
    );
    assert_eq!(
        config["shutdown-timeout"],
        vec![Value::String("500ms".into())]
    );
    let doc: Map<String, Value> = config
        .into_iter()
        .map(|(k, mut v)| {
            (
                k,
                if v.len() == 1 {
                    v.remove(0)
                } else {
                    Value::Array(v)
                },
            )
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("sidecar-config.json");
    std::fs::write(&config_path, Value::Object(doc).to_string()).unwrap();
    let token = write_token(dir.path());
    let mut cmd = bin();
    cmd.arg("check").arg("--config").arg(&config_path);
    with_fake_workload_identity(&mut cmd, &token);
    let (out, text) = exec(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("ok: config") && text.contains("sinks [Adx]"),
        "{text}"
    );
}

#[test]
fn text_scanner_finds_flags_and_stops_at_shell_operators() {
    let subs: BTreeSet<String> = ["run", "check"].into_iter().map(str::to_owned).collect();
    let text = "x | /usr/local/bin/hubble-ingest run --input - \\\n  --format=fluentbit <\"$fifo\" --not-this &\nsee `hubble-ingest check` and `hubble-ingest check --cidr-groups d` --other\n";
    let inv = text_invocations("t", text, &subs);
    assert_eq!(inv.len(), 3, "{inv:?}");
    assert_eq!(
        (inv[0].sub.as_str(), inv[0].flags.clone()),
        ("run", vec!["input".to_owned(), "format".to_owned()])
    );
    assert_eq!(inv[0].at, "deploy/t:1");
    assert!(inv[1].flags.is_empty(), "{inv:?}");
    assert_eq!(inv[2].flags, vec!["cidr-groups".to_owned()]);
}

fn uuids(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("each output line is JSON");
            v["Uuid"]
                .as_str()
                .expect("every record has a Uuid")
                .to_owned()
        })
        .collect()
}

/// Fluent Bit's configuration (YAML) as a map of section → key (lowercase) → value (lowercase for on/off words).
fn fluent_bit_sections_yaml(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let doc: Value = serde_saphyr::from_str(text).expect("fluent-bit.yaml config is YAML");
    let mut out = BTreeMap::new();
    let flat = |m: &Value| -> BTreeMap<String, String> {
        m.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.to_ascii_lowercase(), normalize_flb(&v))
            })
            .collect()
    };
    out.insert("service".to_owned(), flat(&doc["service"]));
    for (kind, section) in [("inputs", "input"), ("outputs", "output")] {
        let items = doc["pipeline"][kind].as_array().expect("pipeline section");
        assert_eq!(items.len(), 1, "one {section} in fluent-bit.yaml");
        out.insert(section.to_owned(), flat(&items[0]));
    }
    out
}

/// The classic format: `[SECTION]` headers and `Key Value` lines.
fn fluent_bit_sections_classic(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_ascii_lowercase();
            assert!(
                !out.contains_key(&current),
                "one [{name}] in fluent-bit.conf"
            );
            out.insert(current.clone(), BTreeMap::new());
            continue;
        }
        let (k, v) = line
            .split_once(char::is_whitespace)
            .expect("Key Value line");
        out.get_mut(&current)
            .expect("key inside a section")
            .insert(k.to_ascii_lowercase(), normalize_flb(v.trim()));
    }
    out
}

fn normalize_flb(v: &str) -> String {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" => "on".to_owned(),
        "off" | "false" => "off".to_owned(),
        _ => v.to_owned(),
    }
}

/// The Fluent Bit pipeline of fluent-bit.yaml: the YAML and the classic configuration say the same; the output is
/// Forward with acks, gzip, a shared key from a Secret and verified TLS, to the node-local Service that selects the
/// hubble-ingest forward DaemonSet on the port it listens on.
#[test]
fn fluent_bit_configs_agree_and_point_at_the_forward_daemonset() {
    let docs = yaml_docs("fluent-bit.yaml");
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "fluent-bit-hubble")
        .expect("fluent-bit-hubble ConfigMap");
    let yaml = fluent_bit_sections_yaml(cm["data"]["fluent-bit.yaml"].as_str().unwrap());
    let classic = fluent_bit_sections_classic(cm["data"]["fluent-bit.conf"].as_str().unwrap());
    assert_eq!(yaml, classic, "fluent-bit.yaml and fluent-bit.conf differ");
    let input = &yaml["input"];
    assert_eq!(input["name"], "tail");
    assert_eq!(input["multiline.parser"], "cri");
    assert!(input["path"].contains("cilium-agent"));
    let out = &yaml["output"];
    assert_eq!(out["name"], "forward");
    assert_eq!(out["require_ack_response"], "on");
    assert_eq!(out["compress"], "gzip");
    assert_eq!(out["tls"], "on");
    assert_eq!(out["tls.verify"], "on");
    assert!(
        glob_match(&out["match"], &input["tag"]),
        "output matches the input's tag"
    );

    // The shared key and node name come from the environment of the Fluent Bit container: a Secret and the node.
    let ds = |name: &str| {
        docs.iter()
            .find(|d| d["kind"] == "DaemonSet" && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("DaemonSet {name}"))
    };
    let flb = &ds("fluent-bit-hubble")["spec"]["template"]["spec"]["containers"][0];
    let env_of = |var: &str| {
        flb["env"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| format!("${{{}}}", e["name"].as_str().unwrap_or_default()) == var)
            .unwrap_or_else(|| panic!("{var} is not set in the Fluent Bit container"))
            .clone()
    };
    let key_ref = &env_of(&out["shared_key"])["valueFrom"]["secretKeyRef"];
    assert!(key_ref["name"].is_string(), "shared key from a Secret");
    assert_eq!(
        env_of(&out["self_hostname"])["valueFrom"]["fieldRef"]["fieldPath"],
        "spec.nodeName"
    );
    let ca_dir = Path::new(&out["tls.ca_file"])
        .parent()
        .unwrap()
        .display()
        .to_string();
    assert!(
        flb["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == ca_dir.as_str()),
        "the CA file's directory is mounted"
    );

    // Host = the Service, node-local, selecting the forward DaemonSet, on the port the daemon listens on.
    let svc = docs
        .iter()
        .find(|d| d["kind"] == "Service")
        .expect("the forward Service");
    let host = format!(
        "{}.{}.svc",
        svc["metadata"]["name"].as_str().unwrap(),
        svc["metadata"]["namespace"].as_str().unwrap()
    );
    assert_eq!(out["host"], host);
    assert_eq!(out["tls.vhost"], host);
    assert_eq!(svc["spec"]["internalTrafficPolicy"], "Local");
    assert_eq!(svc["spec"]["ports"][0]["port"].to_string(), out["port"]);
    let fwd = ds("hubble-ingest-forward");
    let labels = &fwd["spec"]["template"]["metadata"]["labels"];
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "the Service selects the forward DaemonSet");
    }
    let (_, argv) = container_argvs("fluent-bit.yaml")
        .into_iter()
        .next()
        .expect("the forward DaemonSet runs hubble-ingest");
    let input_arg = argv
        .iter()
        .position(|a| a == "--input")
        .map(|i| &argv[i + 1]);
    assert_eq!(
        input_arg.map(String::as_str),
        Some(format!("forward://0.0.0.0:{}", out["port"]).as_str())
    );
}

fn glob_match(pattern: &str, tag: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => tag.starts_with(prefix),
        None => pattern == tag,
    }
}

fn python() -> Option<PathBuf> {
    support::python::with_modules("msgpack", "msgpack")
}

/// The forward DaemonSet's exact argument list, run for real (paths moved into a temp dir, a fresh self-signed
/// certificate, a file sink instead of ADX): an authenticated client sends the fixture's lines over TLS as
/// gzip-compressed chunks, every chunk is acknowledged, and the sink holds what `replay` keeps from the same lines.
#[test]
fn forward_daemonset_arguments_accept_an_authenticated_tls_chunk_and_deliver_it() {
    let Some(py) = python() else { return };
    let (_, argv) = container_argvs("fluent-bit.yaml")
        .into_iter()
        .next()
        .expect("the forward DaemonSet runs hubble-ingest");
    let data = configmap_data();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path();
    let etc = tmp.join("etc");
    materialize(&etc, &data, &daemonset_layout());
    let out = tmp.join("out.ndjson");
    let config = data_str(&data, "config.yaml")
        .replace(CONFIG_MOUNT, &etc.display().to_string())
        .replace(
            "sink:\n  - adx\n",
            &format!("sink:\n  - file:{}\n", out.display()),
        )
        .replace("metrics-addr: 0.0.0.0:9090\n", "");
    std::fs::write(etc.join("config.yaml"), config).unwrap();
    let fwd = tmp.join("forward");
    std::fs::create_dir_all(fwd.join("key")).unwrap();
    std::fs::create_dir_all(fwd.join("tls")).unwrap();
    std::fs::write(fwd.join("key/shared-key"), "k8s-secret-value\n").unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(fwd.join("tls/tls.crt"), cert.cert.pem()).unwrap();
    std::fs::write(fwd.join("tls/tls.key"), cert.signing_key.serialize_pem()).unwrap();
    let args: Vec<String> = argv[1..]
        .iter()
        .map(|a| {
            a.replace("/etc/hubble-ingest-forward", &fwd.display().to_string())
                .replace(CONFIG_MOUNT, &etc.display().to_string())
                .replace(
                    "/var/lib/hubble-ingest-forward",
                    &tmp.join("state").display().to_string(),
                )
                .replace("0.0.0.0:24224", "127.0.0.1:0")
        })
        .collect();
    assert!(args.iter().any(|a| a.contains("127.0.0.1:0")), "{args:?}");
    let log = tmp.join("daemon.log");
    let mut daemon = bin()
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the forward daemon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let bound = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("forward input listening")) {
            let v: Value = serde_json::from_str(line).expect("JSON log");
            break v["fields"]["bound"].as_str().unwrap().to_owned();
        }
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "daemon exited: {text}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no listening line: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/agent-stdout.log");
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/fluent_client.py");
    let sent = Command::new(&py)
        .arg(&client)
        .args([
            "send",
            "--target",
            &bound,
            "--mode",
            "gzip",
            "--hostname",
            "node-a",
        ])
        .arg("--shared-key-file")
        .arg(fwd.join("key/shared-key"))
        .arg("--cafile")
        .arg(fwd.join("tls/tls.crt"))
        .arg(&fixture)
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        sent.status.success(),
        "client: {}\n{text}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let r: Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(r["auth"], true, "{r}");
    assert!(r["acked"].as_u64().unwrap() >= 1, "{r}");
    assert!(status.success(), "{text}");
    assert!(
        !text.contains("k8s-secret-value"),
        "the shared key leaked into the log"
    );

    let expected_out = tmp.join("expected.ndjson");
    let (o, t) = exec(
        bin()
            .args(["replay", "--format", "raw", "--cidr-groups"])
            .arg(etc.join("cidr-groups"))
            .arg("--sink")
            .arg(format!("file:{}", expected_out.display()))
            .arg(&fixture),
    );
    assert!(o.status.success(), "{t}");
    let expected = uuids(&expected_out);
    assert!(!expected.is_empty());
    assert_eq!(uuids(&out), expected, "{text}");
}

fn seconds(duration: &str) -> f64 {
    let (num, unit) = duration.split_at(
        duration
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(duration.len()),
    );
    let n: f64 = num
        .parse()
        .unwrap_or_else(|_| panic!("duration {duration:?}"));
    match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        other => panic!("unit {other:?} in {duration:?}"),
    }
}

/// The DaemonSet agrees with the config it runs and with rbac.yaml: grace period above the shutdown timeout,
/// probes on the metrics port, the state dir and log dir on hostPaths, workload identity wiring, tolerations.
#[test]
fn daemonset_agrees_with_its_config_and_rbac() {
    let data = configmap_data();
    let config: Value = serde_saphyr::from_str(data_str(&data, "config.yaml")).unwrap();
    let ds = yaml_docs("daemonset.yaml")
        .into_iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("daemonset.yaml has a DaemonSet");
    let pod = &ds["spec"]["template"];
    let spec = &pod["spec"];
    let c = &spec["containers"][0];

    let grace = spec["terminationGracePeriodSeconds"]
        .as_f64()
        .expect("grace period set");
    let shutdown = seconds(
        config["shutdown-timeout"]
            .as_str()
            .expect("shutdown-timeout set"),
    );
    assert!(
        shutdown + 5.0 <= grace,
        "shutdown-timeout {shutdown}s leaves margin below the {grace}s grace period"
    );

    let metrics_port: u64 = config["metrics-addr"]
        .as_str()
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("metrics-addr has a port");
    let port = c["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "metrics"))
        .expect("a port named metrics");
    assert_eq!(port["containerPort"].as_u64(), Some(metrics_port));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "metrics");

    let mounts = c["volumeMounts"].as_array().expect("volume mounts");
    let volumes = spec["volumes"].as_array().expect("volumes");
    let host_path_at = |mount_path: &str| -> (Value, Value, bool) {
        let m = mounts
            .iter()
            .find(|m| m["mountPath"] == mount_path)
            .unwrap_or_else(|| panic!("nothing mounted at {mount_path}"));
        let v = volumes
            .iter()
            .find(|v| v["name"] == m["name"])
            .unwrap_or_else(|| panic!("no volume {}", m["name"]));
        (
            v["hostPath"]["path"].clone(),
            v["hostPath"]["type"].clone(),
            m["readOnly"] == true,
        )
    };
    let state_dir = config["state-dir"].as_str().expect("state-dir set");
    assert_eq!(
        host_path_at(state_dir),
        (
            Value::from(state_dir),
            Value::from("DirectoryOrCreate"),
            false
        )
    );
    assert_eq!(
        host_path_at("/var/log/pods"),
        (Value::from("/var/log/pods"), Value::from("Directory"), true)
    );
    for input in config["input"].as_array().expect("input list") {
        assert!(
            input
                .as_str()
                .is_some_and(|i| i.starts_with("/var/log/pods/")),
            "{input}"
        );
    }

    assert_eq!(
        pod["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let sa_name = spec["serviceAccountName"]
        .as_str()
        .expect("serviceAccountName");
    let namespace = ds["metadata"]["namespace"].as_str().expect("namespace");
    let sa = yaml_docs("rbac.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ServiceAccount" && d["metadata"]["name"] == sa_name)
        .expect("rbac.yaml defines the DaemonSet's ServiceAccount");
    assert_eq!(sa["metadata"]["namespace"], namespace);
    assert!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"].is_string());
    let binding = yaml_docs("rbac.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ClusterRoleBinding")
        .expect("a ClusterRoleBinding");
    assert_eq!(binding["subjects"][0]["name"], sa_name);
    assert_eq!(binding["subjects"][0]["namespace"], namespace);

    assert!(
        spec["tolerations"].as_array().is_some_and(|t| t
            .iter()
            .any(|t| t["operator"] == "Exists" && t.get("key").is_none())),
        "tolerates every taint, like cilium"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
}
