//! The direction of imports between the crate's top-level modules, checked from the
//! sources: the module graph has no cycle, and the lower layers never reach up. A single
//! crate keeps builds fast on two cores; this test is what a workspace of crates would
//! have made the compiler check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Imports a module must never make: `(module, forbidden)`.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // Records and storage know nothing of requests, proofs' signing or policy.
    ("meta", &["server", "s3", "admin", "policy", "backend", "proof", "limits", "auth", "audit", "jobs", "obs"]),
    // Engines store bytes: the S3 surface, access decisions and the server are above them.
    ("backend", &["server", "s3", "admin", "policy"]),
    // The S3 layer serves requests: the server and the admin API are above it.
    ("s3", &["server", "admin"]),
    // Observability answers through traits, not by knowing the server.
    ("obs", &["server", "s3", "admin"]),
    ("proof", &["server", "s3", "admin", "policy", "backend"]),
    // The web console decides nothing itself: it signs requests the server serves as any
    // other, so it never reaches the access decisions, the S3 layer or the server.
    ("console", &["server", "s3", "admin", "policy", "backend", "limits"]),
];

/// Every `crate::{module}` path named in the code of `dir` (or `dir.rs`), comments left out.
fn imports(src: &Path, module: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                let name: String = code[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    found.insert(name);
                }
            }
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .filter(|m| !matches!(m.as_str(), "lib" | "main" | "import_direction"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    modules.iter().map(|m| (m.clone(), imports(&src, m).into_iter().filter(|d| modules.contains(d)).collect())).collect()
}

/// A cycle in the graph, if any (depth-first), as the path of module names around it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(g: &BTreeMap<String, BTreeSet<String>>, m: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut found = path[at..].to_vec();
            found.push(m.to_owned());
            return Some(found);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for dep in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, dep, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|m| visit(graph, m, &mut Vec::new(), &mut done))
}

#[test]
fn modules_import_downwards_only() {
    let g = graph();
    assert!(g.contains_key("backend") && g["s3"].contains("backend"), "the module graph was read: {g:?}");
    for (module, forbidden) in FORBIDDEN {
        let bad: Vec<&String> = g[*module].iter().filter(|d| forbidden.contains(&d.as_str())).collect();
        assert!(bad.is_empty(), "{module} imports {bad:?}, which are above it");
    }
    assert_eq!(cycle(&g), None, "an import cycle between modules");
}
