//! Loading every supported source flavour, with real-shaped manifests, and the errors/diagnostics they give.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hubble_cidr::load::load_text;
use hubble_cidr::{load_path, load_sources, DiagnosticKind, LoadError, PrefixTable, Source};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cidr-groups")
}

fn lookup(t: &PrefixTable, ip: &str) -> (Vec<String>, Vec<String>) {
    let ip: IpAddr = ip.parse().unwrap();
    let m = t.lookup(ip);
    (
        m.names().map(str::to_string).collect(),
        m.labels().map(|(k, v)| format!("{k}={v}")).collect(),
    )
}

fn table_of(path: &str, text: &str) -> (PrefixTable, hubble_cidr::LoadedGroups) {
    let loaded = load_text(Path::new(path), text).unwrap_or_else(|e| panic!("{e}"));
    (PrefixTable::build(&loaded.groups), loaded)
}

#[test]
fn fixture_directory_gives_the_documented_lookups() {
    let loaded =
        load_sources(&[Source::parse(fixtures().join("valid").to_str().unwrap())]).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.files.len(), 4);
    let t = &loaded.table;
    assert_eq!(
        lookup(t, "203.0.113.70"),
        (
            vec!["blocklist-abuse".into(), "ru".into(), "geo-ru".into()],
            vec![
                "geo=ru".into(),
                "list=abuse".into(),
                "severity=high".into(),
                "team=secops".into()
            ]
        )
    );
    assert_eq!(lookup(t, "::ffff:203.0.113.70"), lookup(t, "203.0.113.70"));
    assert_eq!(lookup(t, "198.51.100.9").0, ["geo-ru", "ru"]);
    assert_eq!(
        lookup(t, "169.254.169.254"),
        (
            vec!["azure-imds".into()],
            vec!["provider=azure".into(), "purpose=instance-metadata".into()]
        )
    );
    assert_eq!(
        lookup(t, "10.0.0.21"),
        (vec!["corp-internal".into()], vec!["zone=internal".into()])
    );
    assert_eq!(lookup(t, "198.18.10.5").0, ["partner-api", "geo-de"]);
    assert_eq!(
        lookup(t, "192.0.2.250"),
        (
            vec![
                "monitoring-saas".into(),
                "payments/psp-endpoints".into(),
                "blocklist-abuse".into()
            ],
            vec![
                "list=abuse".into(),
                "severity=high".into(),
                "zone=saas".into()
            ]
        )
    );
    assert_eq!(
        lookup(t, "2001:db8:7a00:1::5").0,
        ["blocklist-abuse", "ru", "geo-ru"]
    );
    assert_eq!(lookup(t, "8.8.8.8"), (vec![], vec![]));
}

#[test]
fn kubectl_get_yaml_list_output() {
    let text = r#"apiVersion: v1
items:
- apiVersion: cilium.io/v2
  kind: CiliumCIDRGroup
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"cilium.io/v2","kind":"CiliumCIDRGroup","metadata":{"annotations":{},"name":"geo-ru"},"spec":{"externalCIDRs":["203.0.113.0/24"]}}
    creationTimestamp: "2026-01-12T08:00:00Z"
    generation: 1
    labels:
      geo: ru
    managedFields:
    - apiVersion: cilium.io/v2
      fieldsType: FieldsV1
      fieldsV1:
        f:spec:
          .: {}
          f:externalCIDRs: {}
      manager: kubectl-client-side-apply
      operation: Update
      time: "2026-01-12T08:00:00Z"
    name: geo-ru
    resourceVersion: "1234"
    uid: 6f1d2c8e-0000-4000-8000-000000000001
  spec:
    externalCIDRs:
    - 203.0.113.0/24
    - 2001:db8:7a00::/40
- apiVersion: cilium.io/v2alpha1
  kind: CiliumCIDRGroup
  metadata:
    name: legacy
  spec:
    externalCIDRs: []
kind: List
metadata:
  resourceVersion: ""
"#;
    let (t, loaded) = table_of("ccg.yaml", text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.groups.len(), 2);
    assert!(loaded.groups.get("legacy").unwrap().prefixes.is_empty());
    assert_eq!(
        lookup(&t, "203.0.113.9"),
        (vec!["geo-ru".into()], vec!["geo=ru".into()])
    );
    assert_eq!(lookup(&t, "2001:db8:7a00::1").0, ["geo-ru"]);
}

#[test]
fn typed_list_from_the_raw_api_has_items_without_kind() {
    let text = r#"{"apiVersion":"cilium.io/v2","kind":"CiliumCIDRGroupList","metadata":{"resourceVersion":"99"},
      "items":[{"metadata":{"name":"a","labels":{"x":"1"}},"spec":{"externalCIDRs":["192.0.2.0/24"]}}]}"#;
    let (t, loaded) = table_of("raw.json", text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(
        lookup(&t, "192.0.2.1"),
        (vec!["a".into()], vec!["x=1".into()])
    );
}

#[test]
fn single_document_v2alpha1_and_calico_crd_flavours() {
    let (t, _) = table_of(
        "one.yml",
        "apiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata:\n  name: old\nspec:\n  externalCIDRs: [\"198.51.100.0/24\"]\n",
    );
    assert_eq!(lookup(&t, "198.51.100.1").0, ["old"]);
    let (t, _) = table_of(
        "calico.yaml",
        "apiVersion: crd.projectcalico.org/v1\nkind: NetworkSet\nmetadata:\n  name: ext\n  namespace: shop\nspec:\n  nets:\n  - 192.0.2.1\n",
    );
    assert_eq!(lookup(&t, "192.0.2.1").0, ["shop/ext"]);
}

#[test]
fn unrelated_kinds_are_ignored_silently() {
    let text = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  nets: {not: a list}
  template:
    spec:
      containers: [{name: web, image: nginx}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec:
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8}
---
just a scalar document
---
- a
- list
"#;
    let (t, loaded) = table_of("mixed.yaml", text);
    assert!(loaded.groups.is_empty());
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert!(t.lookup("10.0.0.1".parse().unwrap()).is_empty());
}

#[test]
fn invalid_entries_are_skipped_and_reported_with_file_document_and_entry() {
    let path = fixtures().join("invalid/ccg-invalid-entries.yaml");
    let loaded = load_path(&path).unwrap();
    assert_eq!(loaded.groups.get("typo-list").unwrap().prefixes.len(), 1);
    let d = &loaded.diagnostics;
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|d| d.kind == DiagnosticKind::InvalidEntry));
    assert_eq!(d[0].entry.as_deref(), Some("10.0.0.0/33"));
    assert_eq!(d[1].entry.as_deref(), Some("not-a-cidr"));
    let text = d[0].to_string();
    assert!(text.contains("ccg-invalid-entries.yaml: document 0: CiliumCIDRGroup typo-list: spec.externalCIDRs[1]"), "{text}");
    assert!(text.contains("exceeds 32"), "{text}");
}

#[test]
fn non_string_entries_and_non_list_fields_are_diagnostics() {
    let text = "apiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata:\n  name: a\nspec:\n  externalCIDRs:\n  - 10\n  - {cidr: 192.0.2.0/24}\n  - ~\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: b\nspec:\n  nets: 192.0.2.0/24\n";
    let (_, loaded) = table_of("x.yaml", text);
    let msgs: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert!(msgs[0].contains("invalid CIDR \"10\""), "{msgs:?}");
    assert!(msgs[1].contains("a map, not a CIDR"), "{msgs:?}");
    assert!(msgs[2].contains("null, not a CIDR"), "{msgs:?}");
    assert!(
        msgs[3].contains("document 1: GlobalNetworkSet b: spec.nets is not a list"),
        "{msgs:?}"
    );
}

#[test]
fn missing_name_unsupported_version_and_duplicates_are_diagnostics() {
    let text = "apiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nspec:\n  externalCIDRs: [192.0.2.0/24]\n---\napiVersion: cilium.io/v3\nkind: CiliumCIDRGroup\nmetadata: {name: future}\nspec: {externalCIDRs: []}\n---\napiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata: {name: dup}\nspec: {externalCIDRs: [192.0.2.0/25]}\n---\napiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata: {name: dup}\nspec: {externalCIDRs: [192.0.2.128/25]}\n";
    let (t, loaded) = table_of("d.yaml", text);
    let kinds: Vec<DiagnosticKind> = loaded.diagnostics.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DiagnosticKind::MissingName,
            DiagnosticKind::UnsupportedVersion,
            DiagnosticKind::DuplicateGroup
        ]
    );
    assert_eq!(loaded.diagnostics[2].document, Some(3));
    assert_eq!(lookup(&t, "192.0.2.200").0, ["dup"]);
    assert_eq!(lookup(&t, "192.0.2.1").0, ["dup"]);
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let path = fixtures().join("invalid/malformed.yaml");
    let err = load_path(&path).unwrap_err();
    match &err {
        LoadError::Syntax {
            path: p,
            format,
            line,
            ..
        } => {
            assert_eq!(p, &path);
            assert_eq!(*format, "YAML");
            assert_eq!(*line, Some(8), "{err}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("malformed.yaml:8:"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    println!("{msg}");
    // Multi-document: the line counts from the start of the file.
    let err = load_text(Path::new("m.yaml"), "a: 1\n---\nb: [1, 2\n---\nc: 3\n").unwrap_err();
    assert!(err.to_string().starts_with("m.yaml:"), "{err}");
    let LoadError::Syntax {
        line: Some(line), ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert!((3..=5).contains(&line), "{line}");
}

#[test]
fn malformed_json_names_file_and_line() {
    let err = load_text(
        Path::new("get.json"),
        "{\n  \"kind\": \"List\",\n  \"items\": [\n    {\"a\": }\n  ]\n}\n",
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("get.json:4:"), "{msg}");
    assert!(msg.contains("malformed JSON"), "{msg}");
}

#[test]
fn plain_lists_by_extension_and_by_content() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cn.zone"), "# cn\n192.0.2.0/24\n").unwrap();
    std::fs::write(dir.path().join("bogons"), "10.0.0.0/8\n").unwrap();
    std::fs::write(dir.path().join("blocked.netset"), "198.51.100.0/24\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "10.0.0.0/8 is private\n").unwrap();
    std::fs::write(dir.path().join("notes"), "hello: world\n").unwrap();
    std::fs::create_dir(dir.path().join("ipv6")).unwrap();
    std::fs::write(dir.path().join("ipv6/cn.zone"), "2001:db8::/32\n").unwrap();
    let loaded = load_path(dir.path()).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let mut names: Vec<&str> = loaded.groups.iter().map(|g| g.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["blocked", "bogons", "cn"]);
    assert_eq!(loaded.groups.get("cn").unwrap().prefixes.len(), 2);
    assert_eq!(loaded.files.len(), 4);
}

#[cfg(unix)]
#[test]
fn configmap_volume_is_read_once_through_its_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("..2026_01_01_00_00_00.000000001");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("ru.zone"), "203.0.113.0/24\n").unwrap();
    std::os::unix::fs::symlink("..2026_01_01_00_00_00.000000001", dir.path().join("..data"))
        .unwrap();
    std::os::unix::fs::symlink("..data/ru.zone", dir.path().join("ru.zone")).unwrap();
    let loaded = load_path(dir.path()).unwrap();
    assert_eq!(loaded.files, [dir.path().join("ru.zone")]);
    assert_eq!(loaded.groups.get("ru").unwrap().prefixes.len(), 1);
}

#[test]
fn missing_path_is_an_io_error_naming_it() {
    let err = load_path(Path::new("/nonexistent/cidr-groups")).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/cidr-groups: "),
        "{err}"
    );
}

#[test]
fn yaml_file_without_any_kubernetes_object_is_reported() {
    let (_, loaded) = table_of("ru.yaml", "192.0.2.0/24\n198.51.100.0/24\n");
    assert!(loaded.groups.is_empty());
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(loaded.diagnostics[0].kind, DiagnosticKind::NotAManifest);
    assert!(
        loaded.diagnostics[0]
            .to_string()
            .starts_with("ru.yaml: no Kubernetes object"),
        "{}",
        loaded.diagnostics[0]
    );
}

#[test]
fn bare_addresses_are_cidrs_for_calico_and_lists_but_not_for_cilium() {
    let text = "apiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata: {name: imds}\nspec:\n  externalCIDRs:\n  - 169.254.169.254\n  - 169.254.170.2/32\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: host}\nspec:\n  nets: [192.0.2.1]\n";
    let (t, loaded) = table_of("b.yaml", text);
    assert_eq!(loaded.diagnostics.len(), 1, "{:?}", loaded.diagnostics);
    let d = &loaded.diagnostics[0];
    assert_eq!(d.entry.as_deref(), Some("169.254.169.254"));
    assert!(
        d.message.starts_with("spec.externalCIDRs[0]: invalid CIDR"),
        "{}",
        d.message
    );
    assert!(d.message.contains("169.254.169.254/32"), "{}", d.message);
    assert!(lookup(&t, "169.254.169.254").0.is_empty());
    assert_eq!(lookup(&t, "169.254.170.2").0, ["imds"]);
    assert_eq!(lookup(&t, "192.0.2.1").0, ["host"]);
}
