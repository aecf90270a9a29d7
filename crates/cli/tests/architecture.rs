//! The architecture check: the repository's crate graph and module graph stay as `ARCHITECTURE.md`
//! says.
//!
//! 1. **Crate dependencies.** `ARCHITECTURE.md` declares, once, in its fenced block tagged
//!    `allowed-dependencies`, which workspace crate may depend on which (`td-flows: td-rng`, one
//!    crate per line). Every workspace member (the root `Cargo.toml`'s `members`) must have a line,
//!    and every workspace crate it depends on in `[dependencies]` or `[target.<cfg>.dependencies]`
//!    must be listed there. `[dev-dependencies]` and `[build-dependencies]` are not checked (tests
//!    may reach further than the code). Its `browser-only` block names the external crates (web-sys,
//!    js-sys, wasm-bindgen) only the web glue and the pages may depend on.
//! 2. **No module cycles inside a crate.** Every `.rs` file under `<crate>/src` is a module
//!    (`lib.rs` and `main.rs` are the crate root, `foo.rs` and `foo/mod.rs` are `foo`,
//!    `foo/bar.rs` is `foo::bar`; `src/bin/*.rs` are separate crate roots and are skipped). A
//!    reference is a path starting with `crate::` or `super::` (also inside `use` groups such as
//!    `use crate::{a, b::c}`), reduced to the longest module path that exists. References between
//!    a module and its own ancestors or descendants are ignored; any other reference from `a::x` to
//!    `b::y` is an edge between the siblings `a` and `b` (the children of their closest common
//!    ancestor). A strongly connected component of more than one module is a cycle and fails the
//!    test, which prints the cycle and the references that make it.
//!
//! Both parsers are deliberately small: Cargo manifests are read line by line (enough for the
//! keys, inline tables and multi-line arrays our manifests use), and Rust sources are read after
//! blanking comments, string and character literals. Items under `#[cfg(test)]` are skipped,
//! including inline `#[cfg(test)] mod tests { … }` blocks (an out-of-line `mod tests;` file would
//! be checked like any other module). References through `self::` or a `use` alias are not
//! followed; a path to an item of an inline `mod` counts as a path to the enclosing file's module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ------------------------------------------------------------------------------------------------
// Part 1: crate dependencies

/// The allowed graph: crate -> the workspace crates it may depend on.
type Allowed = BTreeMap<String, BTreeSet<String>>;

/// Reads the fenced block tagged `tag` of ARCHITECTURE.md. Each line is `name: name, name, ...`
/// (commas or spaces separate; nothing after the colon = an empty list); `#` starts a comment.
fn parse_block(markdown: &str, tag: &str) -> Allowed {
    let start = markdown
        .find(&format!("```{tag}\n"))
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no ```{tag} block"));
    let body = &markdown[start..];
    let body = &body[body.find('\n').expect("block body") + 1..];
    let body = &body[..body.find("```").expect("the block is closed")];
    let mut allowed = Allowed::new();
    for line in body.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (name, deps) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("ARCHITECTURE.md: `{line}` is not `crate: deps`"));
        let deps = deps
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect();
        let previous = allowed.insert(name.trim().to_string(), deps);
        assert!(previous.is_none(), "ARCHITECTURE.md lists `{name}` twice");
    }
    allowed
}

/// The characters of a TOML text outside quoted strings, with their byte offsets.
fn toml_code(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote = None;
    text.char_indices().filter(move |&(_, c)| match (c, quote) {
        ('"' | '\'', None) => {
            quote = Some(c);
            false
        }
        (c, Some(open)) => {
            if c == open {
                quote = None;
            }
            false
        }
        _ => true,
    })
}

/// One TOML line without its `#` comment.
fn toml_uncomment(line: &str) -> &str {
    match toml_code(line).find(|&(_, c)| c == '#') {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

/// Splits a dotted TOML key or table name on the dots outside quotes, unquoting the parts.
fn toml_split_dotted(key: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quote = None;
    for c in key.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('.', None) => parts.push(String::new()),
            (c, _) if quote.is_some() || !c.is_whitespace() => parts.last_mut().unwrap().push(c),
            _ => {}
        }
    }
    parts
}

/// One statement of a manifest: a `[table]` header, or `key = value` (the value may span lines
/// when it is a multi-line array or inline table).
#[derive(Debug)]
enum TomlLine {
    Table(Vec<String>),
    Entry(Vec<String>, String),
}

/// The statements of a manifest, in order.
fn toml_lines(text: &str) -> Vec<TomlLine> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = toml_uncomment(raw).trim();
        if pending.is_empty() && line.starts_with('[') {
            let name = line.trim_start_matches('[').trim_end_matches(']');
            out.push(TomlLine::Table(toml_split_dotted(name)));
            continue;
        }
        pending.push_str(line);
        pending.push(' ');
        let depth: i32 = toml_code(&pending)
            .map(|(_, c)| match c {
                '[' | '{' => 1,
                ']' | '}' => -1,
                _ => 0,
            })
            .sum();
        if depth > 0 {
            continue;
        }
        if let Some((key, value)) = pending.split_once('=') {
            out.push(TomlLine::Entry(
                toml_split_dotted(key.trim()),
                value.trim().to_string(),
            ));
        }
        pending.clear();
    }
    out
}

/// `"text"` -> `text`.
fn unquote(value: &str) -> String {
    value.trim().trim_matches('"').to_string()
}

/// The `package = "…"` of an inline table value, if any.
fn inline_package(value: &str) -> Option<String> {
    let inner = value.trim().strip_prefix('{')?.strip_suffix('}')?;
    inner.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == "package").then(|| unquote(v))
    })
}

/// A manifest's package name and the packages of its normal dependencies (`[dependencies]` and
/// `[target.<cfg>.dependencies]`, in every form: `name = …`, `name.workspace = true`,
/// `name = { package = "…" }`, `[dependencies.name]` with an optional `package = "…"`).
fn manifest_deps(text: &str) -> (String, BTreeSet<String>) {
    let mut name = None;
    let mut table: Vec<String> = Vec::new();
    // Dependency key -> package (the key itself unless renamed).
    let mut deps: BTreeMap<String, String> = BTreeMap::new();
    let is_deps = |t: &[String]| match t {
        [d] => d == "dependencies",
        [target, _, d] => target == "target" && d == "dependencies",
        _ => false,
    };
    for line in toml_lines(text) {
        match line {
            TomlLine::Table(t) => {
                // `[dependencies.foo]` / `[target.x.dependencies.foo]`: foo is a dependency.
                if let Some((last, head)) = t.split_last() {
                    if is_deps(head) {
                        deps.insert(last.clone(), last.clone());
                    }
                }
                table = t;
            }
            TomlLine::Entry(key, value) => {
                if table == ["package"] && key == ["name"] {
                    name = Some(unquote(&value));
                } else if is_deps(&table) {
                    let package = inline_package(&value).unwrap_or_else(|| key[0].clone());
                    deps.insert(key[0].clone(), package);
                } else if key == ["package"] {
                    if let Some((last, head)) = table.split_last() {
                        if is_deps(head) {
                            deps.insert(last.clone(), unquote(&value));
                        }
                    }
                }
            }
        }
    }
    let name = name.expect("a [package] name");
    (name, deps.into_values().collect())
}

/// The root manifest's `members` (paths relative to the repository root).
fn workspace_members(root_manifest: &str) -> Vec<String> {
    let lines = toml_lines(root_manifest);
    let mut table = Vec::new();
    for line in lines {
        match line {
            TomlLine::Table(t) => table = t,
            TomlLine::Entry(key, value) if table == ["workspace"] && key == ["members"] => {
                return value
                    .trim_matches(|c| c == '[' || c == ']' || c == ' ')
                    .split(',')
                    .map(unquote)
                    .filter(|m| !m.is_empty())
                    .collect();
            }
            TomlLine::Entry(..) => {}
        }
    }
    panic!("the root Cargo.toml has no [workspace] members");
}

/// (member path, package name, every package it depends on) for every member.
fn workspace() -> Vec<(String, String, BTreeSet<String>)> {
    let root = repo();
    workspace_members(&read(&root.join("Cargo.toml")))
        .into_iter()
        .map(|m| {
            let (name, deps) = manifest_deps(&read(&root.join(&m).join("Cargo.toml")));
            (m, name, deps)
        })
        .collect()
}

#[test]
fn crate_dependencies_are_the_ones_architecture_md_allows() {
    let allowed = parse_block(
        &read(&repo().join("ARCHITECTURE.md")),
        "allowed-dependencies",
    );
    let members = workspace();
    let names: BTreeSet<&String> = members.iter().map(|(_, n, _)| n).collect();
    let mut problems = Vec::new();
    for (path, name, deps) in &members {
        let deps: BTreeSet<String> = deps.iter().filter(|d| names.contains(d)).cloned().collect();
        let Some(ok) = allowed.get(name) else {
            problems.push(format!(
                "{name} ({path}) is a workspace member but has no line in ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in deps.difference(ok) {
            problems.push(format!(
                "{name} ({path}/Cargo.toml) depends on {dep}, which ARCHITECTURE.md does not allow"
            ));
        }
    }
    for (name, deps) in &allowed {
        for unknown in std::iter::once(name)
            .chain(deps)
            .filter(|n| !names.contains(n))
        {
            problems.push(format!(
                "ARCHITECTURE.md names {unknown}, which is not a workspace package"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn only_the_web_glue_and_the_pages_use_browser_crates() {
    let only = parse_block(&read(&repo().join("ARCHITECTURE.md")), "browser-only");
    assert!(
        only.contains_key("web-sys"),
        "the browser-only block names web-sys"
    );
    let mut problems = Vec::new();
    for (path, name, deps) in workspace() {
        for (external, users) in &only {
            if deps.contains(external) && !users.contains(&name) {
                problems.push(format!("{name} ({path}/Cargo.toml) depends on {external}"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// Part 2: module cycles inside a crate

/// A module path: `[]` is the crate root, `["foo", "bar"]` is `foo::bar`.
type ModPath = Vec<String>;

/// Why an edge exists: the file, the line and the path as written.
#[derive(Clone, Debug)]
struct Evidence {
    file: String,
    line: usize,
    text: String,
}

/// Module-level graph: edges between sibling modules, each with its evidence.
type Graph = BTreeMap<ModPath, BTreeMap<ModPath, Vec<Evidence>>>;

/// Replaces comments, string literals and character literals by spaces (newlines kept), so the
/// scanner below sees code only.
fn blank_non_code(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = c.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in &mut out[from..to.min(c.len())] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let ident = |i: usize| i < c.len() && (c[i].is_alphanumeric() || c[i] == '_');
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        let end = if c[i] == '/' && next == Some('/') {
            (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len())
        } else if c[i] == '/' && next == Some('*') {
            block_comment_end(&c, i)
        } else if c[i] == 'r'
            && (i == 0 || !ident(i - 1) || (c[i - 1] == 'b' && !ident(i.wrapping_sub(2))))
            && matches!(next, Some('"' | '#'))
        {
            raw_string_end(&c, i).unwrap_or(i + 1)
        } else if c[i] == '"' {
            string_end(&c, i)
        } else if c[i] == '\'' && next == Some('\\') {
            (i + 3..c.len())
                .find(|&j| c[j] == '\'')
                .map_or(c.len(), |j| j + 1)
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i + 3
        } else {
            i + 1
        };
        if end > i + 1 || c[i] == '"' {
            blank(&mut out, i, end);
        }
        i = end;
    }
    out.into_iter().collect()
}

/// End (exclusive) of the (nested) block comment starting at `i`.
fn block_comment_end(c: &[char], i: usize) -> usize {
    let (mut depth, mut j) = (0, i);
    while j + 1 < c.len() {
        if c[j] == '/' && c[j + 1] == '*' {
            depth += 1;
            j += 2;
        } else if c[j] == '*' && c[j + 1] == '/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    c.len()
}

/// End (exclusive) of the string literal starting with the quote at `i`.
fn string_end(c: &[char], i: usize) -> usize {
    let mut j = i + 1;
    while j < c.len() {
        match c[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    c.len()
}

/// End (exclusive) of the raw string `r#…"…"#…` starting at `i` (None: not a raw string).
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let hashes = c[i + 1..].iter().take_while(|&&ch| ch == '#').count();
    if c.get(i + 1 + hashes) != Some(&'"') {
        return None;
    }
    let mut j = i + 2 + hashes;
    while j < c.len() {
        if c[j] == '"'
            && c[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&ch| ch == '#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

/// A token of the blanked source, with its line.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokenize(code: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = code.chars().collect();
    let (mut out, mut i, mut line) = (Vec::new(), 0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            out.push((Tok::Ident(word), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// Expands the path (or `use` tree) starting at token `i` into full paths, written relative to
/// `prefix`: `crate::{a, b::{c, d}}` gives `crate::a`, `crate::b::c`, `crate::b::d`. Returns the
/// index after the path.
fn expand_paths(
    toks: &[(Tok, usize)],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(word)) => {
                path.push(word.clone());
                i += 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                while let Some((tok, _)) = toks.get(i) {
                    match tok {
                        Tok::Punct('}') => return i + 1,
                        Tok::Punct(',') => i += 1,
                        _ => {
                            let before = i;
                            i = expand_paths(toks, i, &path, out);
                            if i == before {
                                i += 1;
                            }
                        }
                    }
                }
                return i;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
        if toks.get(i).map(|t| &t.0) == Some(&Tok::PathSep) {
            i += 1;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// Resolves a written path (`crate::…` or `super::…`, possibly with `self`) seen in module `from`
/// to the longest existing module path; None if it climbs above the crate root.
fn resolve(written: &[String], from: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut segments = written.iter();
    let mut base: ModPath = match written.first().map(String::as_str) {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        _ => from.to_vec(),
    };
    let mut rest = Vec::new();
    for seg in segments {
        match seg.as_str() {
            "super" if rest.is_empty() => {
                base.pop()?;
            }
            "self" => {}
            _ => rest.push(seg.clone()),
        }
    }
    base.extend(rest);
    while !modules.contains(&base) {
        base.pop()?;
    }
    Some(base)
}

/// Module path of a file relative to `src` (None for `src/bin/*`).
fn module_of(rel: &Path) -> Option<ModPath> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.first().map(String::as_str) == Some("bin") {
        return None;
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    } else if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    Some(parts)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::`/`super::` reference of one file: (module written from, written path, line).
/// Inline `mod name { … }` blocks extend the module path; `#[cfg(test)]` items are skipped.
fn references(code: &str, module: &[String]) -> Vec<(ModPath, Vec<String>, usize)> {
    let toks = tokenize(&blank_non_code(code));
    let mut out = Vec::new();
    // Inline modules: (name, brace depth at which its block closes).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let (mut depth, mut test_attr, mut i) = (0usize, false, 0);
    while i < toks.len() {
        let word = |k: usize| match toks.get(k) {
            Some((Tok::Ident(w), _)) => Some(w.as_str()),
            _ => None,
        };
        let punct = |k: usize, p: char| toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(p));
        if punct(i, '#')
            && punct(i + 1, '[')
            && word(i + 2) == Some("cfg")
            && punct(i + 3, '(')
            && word(i + 4) == Some("test")
            && punct(i + 5, ')')
        {
            test_attr = true;
        }
        if word(i) == Some("mod") && word(i + 1).is_some() && punct(i + 2, '{') {
            if test_attr {
                i = skip_block(&toks, i + 2);
                test_attr = false;
                continue;
            }
            inline.push((word(i + 1).unwrap_or_default().to_string(), depth + 1));
        }
        match &toks[i].0 {
            Tok::Punct('{') => {
                depth += 1;
                test_attr = false;
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                test_attr = false;
            }
            Tok::Punct(';') => test_attr = false,
            Tok::Ident(w)
                if (w == "crate" || w == "super")
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep)
                    && !punct(i.wrapping_sub(1), '$')
                    && !test_attr =>
            {
                let mut from = module.to_vec();
                from.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut paths = Vec::new();
                let next = expand_paths(&toks, i, &[], &mut paths);
                for p in paths {
                    out.push((from.clone(), p, toks[i].1));
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Index after the block whose `{` is at `open`.
fn skip_block(toks: &[(Tok, usize)], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, (tok, _)) in toks.iter().enumerate().skip(open) {
        match tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// Adds the edge for a reference from module `from` to module `to` (both existing): ignored
/// between a module and its ancestors or descendants, otherwise lifted to the two siblings below
/// their closest common ancestor.
fn add_edge(graph: &mut Graph, from: &[String], to: &[String], why: Evidence) {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return;
    }
    let evidence = graph
        .entry(from[..=common].to_vec())
        .or_default()
        .entry(to[..=common].to_vec())
        .or_default();
    // One reference per line is enough to find it (`use a::{b, c}` names a twice).
    if !evidence
        .iter()
        .any(|e| e.file == why.file && e.line == why.line)
    {
        evidence.push(why);
    }
}

/// The module graph of the crate whose directory is `dir` (paths in the evidence relative to the
/// repository root).
fn crate_graph(dir: &Path) -> Graph {
    let src = dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules_of: Vec<(PathBuf, ModPath)> = files
        .into_iter()
        .filter_map(|f| Some((f.clone(), module_of(f.strip_prefix(&src).ok()?)?)))
        .collect();
    let mut modules: BTreeSet<ModPath> = modules_of.iter().map(|(_, m)| m.clone()).collect();
    let mut graph = Graph::new();
    let mut refs = Vec::new();
    for (file, module) in &modules_of {
        let shown = file
            .strip_prefix(repo())
            .unwrap_or(file)
            .display()
            .to_string();
        for (from, written, line) in references(&read(file), module) {
            modules.insert(from.clone());
            refs.push((shown.clone(), from, written, line));
        }
    }
    for (file, from, written, line) in refs {
        let Some(to) = resolve(&written, &from, &modules) else {
            continue;
        };
        let kept: Vec<&str> = written
            .iter()
            .map(String::as_str)
            .filter(|s| *s != "self")
            .collect();
        let text = kept.join("::");
        add_edge(&mut graph, &from, &to, Evidence { file, line, text });
    }
    graph
}

/// Strongly connected components with more than one node (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<ModPath>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g ModPath, usize>,
        low: BTreeMap<&'g ModPath, usize>,
        stack: Vec<&'g ModPath>,
        on_stack: BTreeSet<&'g ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g ModPath) {
            let graph: &'g Graph = self.graph;
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in graph.get(v).into_iter().flat_map(|e| e.keys()) {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    let nodes: BTreeSet<&ModPath> = graph
        .iter()
        .flat_map(|(v, e)| std::iter::once(v).chain(e.keys()))
        .collect();
    for v in nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found.sort();
    t.found
}

/// One closed walk through a component, starting and ending at its first module (breadth-first,
/// so it is a shortest cycle through that module).
fn a_cycle(graph: &Graph, component: &[ModPath]) -> Vec<ModPath> {
    let inside: BTreeSet<&ModPath> = component.iter().collect();
    let start = &component[0];
    let mut parent: BTreeMap<&ModPath, &ModPath> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().filter(|w| inside.contains(w)) {
            if w == start {
                let mut walk = vec![start.clone(), v.clone()];
                let mut u = v;
                while let Some(&p) = parent.get(u) {
                    walk.push(p.clone());
                    u = p;
                }
                walk.reverse();
                return walk;
            }
            if !parent.contains_key(w) && w != start {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    unreachable!("a strongly connected component has a cycle through each of its modules")
}

fn show(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// `a -> b: file:line `path`, …` (at most four references, then a count).
fn edge_line(graph: &Graph, a: &ModPath, b: &ModPath) -> String {
    let evidence = &graph[a][b];
    let shown: Vec<String> = evidence
        .iter()
        .take(4)
        .map(|e| format!("{}:{} `{}`", e.file, e.line, e.text))
        .collect();
    let more = match evidence.len().saturating_sub(4) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!("{} -> {}: {}{more}", show(a), show(b), shown.join(", "))
}

/// A readable report of every cycle of a graph (empty when there is none): one cycle through the
/// component, then every edge inside the component with the references that make it.
fn cycle_report(crate_name: &str, graph: &Graph) -> Vec<String> {
    let mut report = Vec::new();
    for component in cycles(graph) {
        let walk: Vec<String> = a_cycle(graph, &component).iter().map(|m| show(m)).collect();
        let members: Vec<String> = component.iter().map(|m| show(m)).collect();
        report.push(format!(
            "{crate_name}: module cycle {} (strongly connected: {})",
            walk.join(" -> "),
            members.join(", ")
        ));
        let inside: BTreeSet<&ModPath> = component.iter().collect();
        for a in &component {
            for b in graph[a].keys().filter(|b| inside.contains(b)) {
                report.push(format!("    {}", edge_line(graph, a, b)));
            }
        }
    }
    report
}

#[test]
fn no_module_cycles_inside_any_crate() {
    let mut report = Vec::new();
    for (path, name, _) in workspace() {
        report.extend(cycle_report(&name, &crate_graph(&repo().join(path))));
    }
    assert!(report.is_empty(), "\n{}\n", report.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// The checkers themselves

fn synthetic(edges: &[(&str, &str)]) -> Graph {
    let mut graph = Graph::new();
    for (line, (a, b)) in edges.iter().enumerate() {
        let path = |s: &str| s.split("::").map(str::to_string).collect::<ModPath>();
        let why = Evidence {
            file: "synthetic.rs".into(),
            line: line + 1,
            text: format!("crate::{b}"),
        };
        add_edge(&mut graph, &path(a), &path(b), why);
    }
    graph
}

#[test]
fn the_cycle_finder_reports_a_cycle() {
    // a -> b -> c -> a, plus d -> a outside the cycle; the nested edges lift to their siblings.
    let graph = synthetic(&[("a::x", "b"), ("b", "c::y"), ("c", "a"), ("d", "a")]);
    let names = |ms: &[ModPath]| ms.iter().map(|m| show(m)).collect::<Vec<_>>();
    assert_eq!(cycles(&graph).len(), 1);
    assert_eq!(names(&cycles(&graph)[0]), ["a", "b", "c"]);
    assert_eq!(
        names(&a_cycle(&graph, &cycles(&graph)[0])),
        ["a", "b", "c", "a"]
    );
    let report = cycle_report("demo", &graph).join("\n");
    assert!(
        report.contains("demo: module cycle a -> b -> c -> a"),
        "{report}"
    );
    assert!(
        report.contains("a -> b: synthetic.rs:1 `crate::b`"),
        "{report}"
    );
}

#[test]
fn the_cycle_finder_accepts_a_layered_graph() {
    // A diamond, and references between a module and its own ancestors or descendants.
    let graph = synthetic(&[
        ("a", "b"),
        ("a", "c"),
        ("b", "d"),
        ("c", "d"),
        ("d::x", "d"),
        ("d", "d::x::y"),
    ]);
    assert!(cycles(&graph).is_empty());
    assert!(cycle_report("demo", &graph).is_empty());
}

#[test]
fn references_are_found_and_resolved() {
    let code = r#"
        //! Docs mention crate::ignored::path.
        use super::{a, b::{self, c}};
        use crate::d::Item;
        const S: &str = "crate::not_code";
        fn f<'a>(x: &'a str) -> char { let _ = crate::e::f(); 'x' }
        mod inner { use super::super::g; }
        #[cfg(test)]
        mod tests { use crate::h; }
    "#;
    let refs: Vec<(String, String)> = references(code, &["m".to_string(), "n".to_string()])
        .into_iter()
        .map(|(from, written, _)| (show(&from), written.join("::")))
        .collect();
    let want = [
        ("m::n", "super::a"),
        ("m::n", "super::b::self"),
        ("m::n", "super::b::c"),
        ("m::n", "crate::d::Item"),
        ("m::n", "crate::e::f"),
        ("m::n::inner", "super::super::g"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(refs, want);
    let modules: BTreeSet<ModPath> = [
        vec![],
        vec!["m".into()],
        vec!["m".into(), "b".into()],
        vec!["d".into()],
    ]
    .into_iter()
    .collect();
    let from = ["m".to_string(), "n".to_string()];
    let path = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        resolve(&path("super::b::c"), &from, &modules),
        Some(path("m::b"))
    );
    assert_eq!(
        resolve(&path("crate::d::Item"), &from, &modules),
        Some(path("d"))
    );
    assert_eq!(
        resolve(&path("super::super::super::x"), &from, &modules),
        None
    );
}

#[test]
fn manifests_are_read_as_cargo_reads_them() {
    let manifest = r#"
        [package]
        name = "demo" # a comment
        [features]
        web = ["td-web/bench"]
        [dependencies]
        td-core.workspace = true
        renamed = { package = "td-flows", version = "1" }
        web-sys = { workspace = true, features = [
          "Window", "Document",
        ] }
        [dependencies.td-rng]
        path = "../rng"
        [dependencies.alias]
        package = "td-particles"
        [target.'cfg(target_arch = "wasm32")'.dependencies]
        td-web = { path = "../web" }
        [dev-dependencies]
        td-energy.workspace = true
    "#;
    let (name, deps) = manifest_deps(manifest);
    assert_eq!(name, "demo");
    let want = [
        "td-core",
        "td-flows",
        "td-particles",
        "td-rng",
        "td-web",
        "web-sys",
    ];
    assert_eq!(deps.iter().map(String::as_str).collect::<Vec<_>>(), want);
    let allowed = parse_block("x\n```deps\na: b, c # why\nd:\n```\n", "deps");
    assert_eq!(allowed["a"].iter().collect::<Vec<_>>(), ["b", "c"]);
    assert!(allowed["d"].is_empty());
}
