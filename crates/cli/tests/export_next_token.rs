//! Exports: the CSV parses back (strict RFC 4180 reader below) with the right columns for hostile
//! labels, the JSON is valid (strict RFC 8259 reader below) and its state reads back to the same
//! state, and the native command writes the same SVG as the page's code path, a PNG of the right
//! size (with text), and the same CSV and JSON.

use std::path::{Path, PathBuf};
use std::process::Command;
use td_core::explorer::Explorer;
use td_next_token::explorer::NextToken;

use td_core::export::VERSION;
use td_core::page;
use td_core::url;
use td_next_token::export::{self, CSV_COLUMNS};
use td_next_token::params::{self, PARAMS};
use td_next_token::scene::Scene;
use td_next_token::svg::{render_svg, Figure};

const HOSTILE: &str = "#next-token?v=1&flow=compare&s=2,1,0,-1,0.5&labels=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E,a%22b%22%5C,%D7%A9%D7%9C%D7%95%D7%9D%E2%80%AE,%F0%9F%99%82%E2%80%A8x,%3D1%2B2&p0=uniform;0.1,0.2,0.3&t=3";

fn scene_of(link: &str) -> Scene {
    let (state, _) = NextToken::from_hash(link);
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn page_of(link: &str) -> page::PageOptions {
    NextToken::page_from_hash(link).0
}

// ---------------------------------------------------------------- a strict RFC 4180 reader

/// Reads CSV records (CRLF or LF line ends, quoted fields with doubled quotes). Lines starting with
/// `#` outside a quoted field are comments. Errors on a quote inside an unquoted field, text after a
/// closing quote, or an unterminated quote.
fn read_csv(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut comments = Vec::new();
    let mut records = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '#' {
            let start = i;
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            let line: String = chars[start..i].iter().collect();
            comments.push(line.trim_end_matches('\r').to_string());
            i += 1;
            continue;
        }
        let mut record = Vec::new();
        loop {
            let mut field = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated quoted field".into()),
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            field.push('"');
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            field.push(c);
                            i += 1;
                        }
                    }
                }
                if !matches!(chars.get(i), None | Some(',') | Some('\r') | Some('\n')) {
                    return Err(format!("text after a closing quote at {i}"));
                }
            } else {
                while let Some(&c) = chars.get(i) {
                    if matches!(c, ',' | '\r' | '\n') {
                        break;
                    }
                    if c == '"' {
                        return Err(format!("quote inside an unquoted field at {i}"));
                    }
                    field.push(c);
                    i += 1;
                }
            }
            record.push(field);
            match chars.get(i) {
                Some(',') => i += 1,
                Some('\r') if chars.get(i + 1) == Some(&'\n') => {
                    i += 2;
                    break;
                }
                Some('\n') => {
                    i += 1;
                    break;
                }
                None => break,
                Some(c) => return Err(format!("unexpected {c:?} at {i}")),
            }
        }
        records.push(record);
    }
    Ok((comments, records))
}

// ---------------------------------------------------------------- a strict RFC 8259 reader

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text as written, and its value.
    Num(String, f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no key {key}")),
            other => panic!("not an object: {other:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn parse(text: &str) -> Result<Json, String> {
        let mut reader = Reader {
            text: text.as_bytes(),
            at: 0,
        };
        let value = reader.value(0)?;
        reader.space();
        if reader.at != reader.text.len() {
            return Err(format!("trailing text at {}", reader.at));
        }
        Ok(value)
    }
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }
    fn expect(&mut self, word: &str) -> Result<(), String> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            Err(format!("expected {word} at {}", self.at))
        }
    }
    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 64 {
            return Err("too deep".into());
        }
        self.space();
        match self.peek() {
            Some(b'n') => self.expect("null").map(|_| Json::Null),
            Some(b't') => self.expect("true").map(|_| Json::Bool(true)),
            Some(b'f') => self.expect("false").map(|_| Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.space();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("expected , or ] at {}", self.at)),
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut fields = Vec::new();
                self.space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.space();
                    let key = self.string()?;
                    if fields.iter().any(|(k, _)| *k == key) {
                        return Err(format!("duplicate key {key}"));
                    }
                    self.space();
                    self.expect(":")?;
                    fields.push((key, self.value(depth + 1)?));
                    self.space();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return Err(format!("expected , or }} at {}", self.at)),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            other => Err(format!("unexpected {other:?} at {}", self.at)),
        }
    }
    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }
    fn number(&mut self) -> Result<Json, String> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else if self.digits() == 0 {
            return Err(format!("bad number at {start}"));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(format!("bad fraction at {start}"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(format!("bad exponent at {start}"));
            }
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).unwrap();
        let value: f64 = text.parse().map_err(|_| format!("bad number {text}"))?;
        Ok(Json::Num(text.to_string(), value))
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let hex = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or(format!("bad \\u escape at {}", self.at))?;
        self.at += 4;
        Ok(hex)
    }
    fn string(&mut self) -> Result<String, String> {
        self.expect("\"")?;
        let mut bytes = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err("unterminated string".into());
            };
            self.at += 1;
            match byte {
                b'"' => break,
                0..=0x1f => return Err(format!("raw control character at {}", self.at - 1)),
                b'\\' => {
                    let escape = self.peek().ok_or("unterminated escape")?;
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.expect("\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err("lone surrogate".into());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or("bad code point")?
                        }
                        other => return Err(format!("bad escape \\{}", other as char)),
                    };
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                other => bytes.push(other),
            }
        }
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_reader_rejects_broken_csv() {
    assert!(read_csv("a,b\"c\r\n").is_err());
    assert!(read_csv("\"a\"b,c\r\n").is_err());
    assert!(read_csv("\"abc\r\n").is_err());
    let (_, rows) = read_csv("\"a,\"\"b\"\"\",c\r\nd,\r\n").unwrap();
    assert_eq!(rows, vec![vec!["a,\"b\"", "c"], vec!["d", ""]]);
}

#[test]
fn csv_with_hostile_labels_parses_back_with_every_column() {
    let scene = scene_of(HOSTILE);
    let labels = &scene.corner_labels;
    assert!(labels.iter().any(|l| l.contains('"')), "{labels:?}");
    let text = export::csv(&scene, HOSTILE);
    let (comments, rows) = read_csv(&text).expect("valid CSV");
    assert!(comments[0].contains("token-dynamics") && comments[0].contains(VERSION));
    assert!(
        comments
            .iter()
            .any(|c| c.contains("link: #next-token?v=1&flow=compare")),
        "{comments:?}"
    );
    assert!(comments.iter().any(|c| c.contains("nats")));
    for comment in &comments {
        assert!(!comment.contains('"') && !comment.chars().any(char::is_control));
    }
    let header = &rows[0];
    assert_eq!(header.len(), CSV_COLUMNS);
    assert_eq!(
        header[..4],
        ["flow", "run", "t", "t_over_T"].map(String::from)
    );
    for slot in 0..3 {
        assert_eq!(header[4 + slot], format!("p_{}", labels[slot]));
    }
    assert_eq!(header[7], "p_other");
    assert_eq!(header[14], "conserved");
    let samples: usize = scene
        .panels
        .iter()
        .flat_map(|p| &p.runs)
        .map(|r| r.run.samples().len())
        .sum();
    assert_eq!(rows.len(), 1 + samples);
    for row in &rows[1..] {
        assert_eq!(row.len(), CSV_COLUMNS, "{row:?}");
        for cell in &row[2..14] {
            assert!(
                url::parse_number(cell).is_some(),
                "cell {cell:?} in {row:?}"
            );
        }
    }
    // Numbers round-trip exactly: the last row is the last sample of the last run.
    let last_view = scene.panels.last().unwrap().runs.last().unwrap();
    let last = last_view.run.samples().last().unwrap();
    let row = rows.last().unwrap();
    assert_eq!(row[1], last_view.name);
    assert_eq!(url::parse_number(&row[2]), Some(last.t));
    assert_eq!(url::parse_number(&row[10]), Some(last.diag.free_energy));
    assert_eq!(url::parse_number(&row[7]), Some(last.lumped[3]));
}

#[test]
fn csv_leaves_non_finite_cells_empty_and_handles_v2() {
    // Flow A keeps p = 0 on the third token, so KL(target || p) = +inf: an empty cell.
    let link = "#next-token?v=1&flow=replicator&p0=0.5,0.5,0&t=2";
    let scene = scene_of(link);
    let (_, rows) = read_csv(&export::csv(&scene, link)).unwrap();
    assert!(rows[1..].iter().all(|r| r[12].is_empty()), "{:?}", rows[1]);
    // V = 2: the third corner column exists and is empty.
    let link = "#next-token?v=1&flow=entropic&s=0,1&labels=yes,no";
    let scene = scene_of(link);
    let (_, rows) = read_csv(&export::csv(&scene, link)).unwrap();
    assert_eq!(rows[0][4..7], ["p_yes", "p_no", "p_none"].map(String::from));
    assert!(rows[1..]
        .iter()
        .all(|r| r.len() == CSV_COLUMNS && r[6].is_empty()));
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_reader_rejects_broken_json() {
    for bad in [
        "{",
        "{\"a\":1,}",
        "[1 2]",
        "01",
        "1.",
        ".5",
        "NaN",
        "\"a\nb\"",
        "{\"a\":1}x",
        "\"\\x\"",
        "{\"a\":1,\"a\":2}",
    ] {
        assert!(Reader::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Reader::parse(" {\"a\":[null,true,-1.5e3,\"\\u00e9\\ud83d\\ude42\"]} ").unwrap(),
        Json::Obj(vec![(
            "a".into(),
            Json::Arr(vec![
                Json::Null,
                Json::Bool(true),
                Json::Num("-1.5e3".into(), -1500.0),
                Json::Str("é🙂".into())
            ])
        )])
    );
}

/// Builds a link from the JSON's `state` and `page` objects, as a script would.
fn link_from_json(json: &Json) -> String {
    let mut pairs = Vec::new();
    let Json::Obj(state) = json.get("state") else {
        panic!("state is not an object")
    };
    for (key, value) in state {
        let text = match value {
            Json::Num(text, _) => text.clone(),
            Json::Str(text) => text.clone(),
            other => panic!("{key}: unexpected {other:?}"),
        };
        pairs.push((key.clone(), text));
    }
    let Json::Obj(page) = json.get("page") else {
        panic!("page is not an object")
    };
    for (key, value) in page {
        let text = match value {
            Json::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            Json::Str(text) => text.clone(),
            Json::Arr(items) => items
                .iter()
                .map(|i| i.str().to_string())
                .collect::<Vec<_>>()
                .join(","),
            other => panic!("{key}: unexpected {other:?}"),
        };
        pairs.push((key.clone(), text));
    }
    url::join_hash("next-token", &pairs)
}

#[test]
fn json_is_valid_and_its_state_reads_back_to_the_same_state() {
    let links = [
        HOSTILE.to_string(),
        "#next-token?v=1".to_string(),
        "#next-token?v=1&flow=replicator&p0=0.5,0.5,0&t=2&embed=1&hide=T,flow&theme=dark&view=simplex&controls=none&autoplay=1&loop=1".to_string(),
        "#next-token?v=1&flow=entropic&gen=zipf&V=1000&seed=7&trunc=top-p&top_p=0.5&overlay=T:0.5,2".to_string(),
        "#next-token?v=1&flow=replicator&adjust=matrix&W=spiral&labels=a%5Cb,%22q%22,x%E2%80%A8y%E2%80%A9z".to_string(),
        "#next-token?v=1&flow=entropic-mw&eta=2.5&t=30".to_string(),
        NextToken::to_hash(&params::State::default()),
    ];
    for link in &links {
        let (state, _) = NextToken::from_hash(link);
        let page = page_of(link);
        let scene = scene_of(link);
        let text = NextToken::json(&scene, &page, link);
        assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
        let json = Reader::parse(&text).unwrap_or_else(|e| panic!("{link}: {e}\n{text}"));
        assert_eq!(json.get("tool").str(), "token-dynamics");
        assert_eq!(json.get("version").str(), VERSION);
        assert_eq!(json.get("explorer").str(), "next-token");
        assert_eq!(
            json.get("format"),
            &Json::Num("1".into(), f64::from(params::FORMAT_VERSION))
        );
        assert_eq!(json.get("link").str(), link);
        // Every parameter is there, numbers as numbers.
        for param in PARAMS {
            let value = json.get("state").get(param.key);
            match param.kind {
                params::Kind::Number { .. } | params::Kind::Integer { .. } => {
                    assert!(matches!(value, Json::Num(..)), "{}: {value:?}", param.key)
                }
                _ => assert!(matches!(value, Json::Str(_)), "{}: {value:?}", param.key),
            }
        }
        // The state and page options read back exactly, from the object and the canonical link.
        let rebuilt = link_from_json(&json);
        let (again, msgs) = NextToken::from_hash(&rebuilt);
        assert!(msgs.is_empty(), "{rebuilt}: {msgs:?}");
        assert_eq!(again, state, "{rebuilt}");
        assert_eq!(page_of(&rebuilt), page);
        let canonical = json.get("canonical_link").str();
        assert_eq!(NextToken::from_hash(canonical).0, state);
        assert_eq!(page_of(canonical), page);
        // Readouts: one per panel, same numbers as the scene's.
        let Json::Arr(readouts) = json.get("readout") else {
            panic!("readout is not an array")
        };
        let expected = scene.readouts();
        assert_eq!(readouts.len(), expected.len());
        for (r, want) in readouts.iter().zip(&expected) {
            match r.get("F") {
                Json::Num(_, f) => assert_eq!(*f, want.free_energy),
                other => panic!("F: {other:?}"),
            }
            let Json::Arr(p) = r.get("p") else { panic!() };
            assert_eq!(p.len(), want.p.len());
            if want.kl_reverse.is_infinite() {
                assert_eq!(r.get("KLreverse"), &Json::Null);
            }
        }
    }
}

#[test]
fn json_writes_infinite_kl_as_null() {
    let link = "#next-token?v=1&flow=replicator&p0=0.5,0.5,0&t=2";
    let scene = scene_of(link);
    assert!(scene.readouts()[0].kl_reverse.is_infinite());
    let text = NextToken::json(&scene, &page_of(link), link);
    let json = Reader::parse(&text).unwrap();
    let Json::Arr(readouts) = json.get("readout") else {
        panic!()
    };
    assert_eq!(readouts[0].get("KLreverse"), &Json::Null);
}

#[test]
fn file_stems_are_ascii_and_say_what_they_are() {
    for (link, want) in [
        ("#next-token?v=1", "token-dynamics_next-token_compare_T1"),
        (
            "#next-token?v=1&flow=entropic&T=0.5&trunc=top-p&top_p=0.8",
            "token-dynamics_next-token_entropic_T0.5_top-p0.8",
        ),
        (
            "#next-token?v=1&flow=mw&gen=zipf&V=1000&seed=7&overlay=eta:0.1,1",
            "token-dynamics_next-token_mw_T1_zipf-V1000-seed7_overlay-eta",
        ),
    ] {
        assert_eq!(NextToken::file_stem(&NextToken::from_hash(link).0), want);
    }
    let stem = NextToken::file_stem(&NextToken::from_hash(HOSTILE).0);
    assert!(stem
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
}

// ---------------------------------------------------------------- the native command

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("token-dynamics-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_token-dynamics"))
        .args(args)
        .output()
        .expect("run token-dynamics")
}

/// Width and height from a PNG's IHDR chunk (after checking the signature).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (width, height)
}

/// How many pixels in the rectangle are dark (text or lines).
fn dark_pixels(png: &Path, x0: u32, y0: u32, w: u32, h: u32) -> usize {
    let pixmap = resvg::tiny_skia::Pixmap::load_png(png).expect("decode PNG");
    let mut count = 0;
    for y in y0..(y0 + h).min(pixmap.height()) {
        for x in x0..(x0 + w).min(pixmap.width()) {
            let p = pixmap.pixel(x, y).unwrap();
            if p.alpha() > 128
                && u32::from(p.red()) + u32::from(p.green()) + u32::from(p.blue()) < 300
            {
                count += 1;
            }
        }
    }
    count
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn command_line_writes_the_same_figure_and_data_as_the_page() {
    let dir = temp_dir("cli");
    let links = [
        "#next-token?v=1&flow=compare&s=0,1&labels=a,b&p0=uniform&t=4",
        HOSTILE,
        "#next-token?v=1&flow=entropic-mw&t=40&p0=0.1,0.3,0.6&overlay=eta:0.27,1,1.9,2.1&at=0.5&embed=1",
    ];
    for (index, link) in links.iter().enumerate() {
        let file = |ext: &str| dir.join(format!("{index}.{ext}"));
        let output = cli(&[
            "render",
            link,
            "--svg",
            path_str(&file("svg")),
            "--png",
            path_str(&file("png")),
            "--csv",
            path_str(&file("csv")),
            "--json",
            path_str(&file("json")),
        ]);
        assert!(output.status.success(), "{link}: {output:?}");
        let (state, _) = NextToken::from_hash(link);
        let at = state.at;
        let scene = scene_of(link);
        let size = Figure::Simplex.default_size(scene.panels.len());
        let svg = std::fs::read_to_string(file("svg")).unwrap();
        assert_eq!(
            svg,
            NextToken::render_svg(&scene, "simplex", size, at),
            "{link}"
        );
        let drawn = render_svg(&scene, Figure::Simplex, size, at);
        assert!(
            svg.contains(td_core::export::svg_body(&drawn)),
            "{link}: the command's SVG differs from render_svg with its caption"
        );
        let strip = NextToken::export_caption_height(&scene, "simplex", f64::from(size.0), 1.0);
        let png = std::fs::read(file("png")).unwrap();
        assert_eq!(png_size(&png), (size.0, size.1 + strip as u32), "{link}");
        // The panel title is drawn as text at the top left: the fonts were found.
        assert!(
            dark_pixels(&file("png"), 0, 0, 200, 30) > 20,
            "{link}: no text in the PNG (is a sans-serif font such as DejaVu Sans installed?)"
        );
        assert_eq!(
            std::fs::read_to_string(file("csv")).unwrap(),
            export::csv(&scene, link)
        );
        assert_eq!(
            std::fs::read_to_string(file("json")).unwrap(),
            NextToken::json(&scene, &page_of(link), link)
        );
    }

    // --scale 2 doubles the PNG; --figure and --size choose the figure and its size.
    let link = links[0];
    let scaled = dir.join("scaled.png");
    let output = cli(&["render", link, "--png", path_str(&scaled), "--scale", "2"]);
    assert!(output.status.success(), "{output:?}");
    let (w, h) = Figure::Simplex.default_size(2);
    let strip = NextToken::export_caption_height(&scene_of(link), "simplex", f64::from(w), 1.0);
    let h = h + strip as u32;
    assert_eq!(png_size(&std::fs::read(&scaled).unwrap()), (2 * w, 2 * h));
    let series = dir.join("series.png");
    let series_svg = dir.join("series.svg");
    let output = cli(&[
        "render",
        link,
        "--figure",
        "series",
        "--size",
        "500x300",
        "--png",
        path_str(&series),
        "--svg",
        path_str(&series_svg),
        "--scale",
        "1.5",
    ]);
    assert!(output.status.success(), "{output:?}");
    // --size is the figure's; the caption strip is added under it.
    let strip = NextToken::export_caption_height(&scene_of(link), "series", 500.0, 1.0);
    let tall = (1.5 * (300.0 + strip)).round() as u32;
    assert_eq!(png_size(&std::fs::read(&series).unwrap()), (750, tall));
    assert_eq!(
        std::fs::read_to_string(&series_svg).unwrap(),
        NextToken::render_svg(&scene_of(link), "series", (500, 300), 1.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_line_reports_link_problems_and_bad_arguments() {
    // A bad link still renders; what was ignored goes to standard error, the SVG to stdout.
    let output = cli(&["render", "#next-token?v=1&T=abc&zzz=1", "--svg", "-"]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("zzz") && stderr.contains("T=abc"),
        "{stderr}"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("<svg"),
        "{}",
        &stdout[..stdout.len().min(100)]
    );

    for bad in [
        &[][..],
        &["render"],
        &["render", "#next-token?v=1"],
        &["render", "#next-token?v=1", "--svg"],
        &[
            "render",
            "#next-token?v=1",
            "--png",
            "x.png",
            "--scale",
            "abc",
        ],
        &[
            "render",
            "#next-token?v=1",
            "--svg",
            "x.svg",
            "--figure",
            "pie",
        ],
        &[
            "render",
            "#next-token?v=1",
            "--svg",
            "x.svg",
            "--size",
            "big",
        ],
        &["render", "#next-token?v=1", "--svg", "x.svg", "--what", "1"],
        &["paint", "#next-token?v=1", "--svg", "x.svg"],
    ] {
        let output = cli(bad);
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("usage: token-dynamics render"),
            "{bad:?}: {stderr}"
        );
    }
    let help = cli(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--scale"));
}
