//! Every word drawn inside a figure reads at WCAG AA contrast (4.5:1) on the figure's background:
//! each explorer's default link and every preset, every figure, at its export size and at the widths
//! it has on 390 px and 320 px phones, rendered to SVG natively (the same drawing code paints the page's canvas).

use td_core::draw_kit::{contrast_ratio, BACKGROUND};
use token_dynamics::explorers::{dispatch, Native, Visit, NAMES};

use plotters::style::RGBColor;

/// One `<text>` of an SVG: its fill blended over the background by its opacity, its size, its words.
struct DrawnText {
    fill: RGBColor,
    size: f64,
    text: String,
    /// Left and right ends in CSS pixels, widths estimated at half an em per character (what
    /// the drawing code budgets for; real sans-serif fonts average about that).
    span: (f64, f64),
    /// The baseline's y and its `dy` (texts on one line share both).
    line: String,
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn hex(colour: &str) -> Option<RGBColor> {
    let c = colour.strip_prefix('#')?;
    let byte = |i: usize| u8::from_str_radix(c.get(i..i + 2)?, 16).ok();
    Some(RGBColor(byte(0)?, byte(2)?, byte(4)?))
}

fn texts(svg: &str) -> Vec<DrawnText> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find("<text ") {
        rest = &rest[at..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        let body_end = rest.find("</text>").unwrap_or(end + 1);
        let text = rest[end + 1..body_end.max(end + 1)]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        rest = &rest[end..];
        let Some(fill) = attribute(tag, "fill").and_then(hex) else {
            panic!("a text without a readable fill: {tag}");
        };
        let opacity: f64 = attribute(tag, "opacity")
            .and_then(|o| o.parse().ok())
            .unwrap_or(1.0);
        let blend = |v: u8, bg: u8| {
            (opacity * f64::from(v) + (1.0 - opacity) * f64::from(bg)).round() as u8
        };
        let size: f64 = attribute(tag, "font-size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        let x: f64 = attribute(tag, "x")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        let width = 0.5 * size * text.chars().count() as f64;
        let span = match attribute(tag, "text-anchor") {
            Some("end") => (x - width, x),
            Some("middle") => (x - width / 2.0, x + width / 2.0),
            _ => (x, x + width),
        };
        let line = format!(
            "{} {}",
            attribute(tag, "y").unwrap_or(""),
            attribute(tag, "dy").unwrap_or("")
        );
        out.push(DrawnText {
            line,
            span,
            fill: RGBColor(
                blend(fill.0, BACKGROUND.0),
                blend(fill.1, BACKGROUND.1),
                blend(fill.2, BACKGROUND.2),
            ),
            size,
            text,
        });
    }
    out
}

struct Check;

impl Visit for Check {
    type Output = (usize, Vec<String>);

    fn visit<E: Native>(self) -> (usize, Vec<String>) {
        let mut links: Vec<(String, String)> = vec![("default".into(), String::new())];
        links.extend(
            E::presets()
                .iter()
                .map(|p| (p.name.to_string(), p.hash.to_string())),
        );
        // Links whose figures crowd the most text: a 50,257-token vocabulary, long labels.
        let crowded: &[&str] = match E::NAME {
            "next-token" => &[
                "#next-token?v=1&gen=zipf&V=50257",
                "#next-token?v=1&s=0,1,2,3,4,5,6,7&labels=extraordinarily,long,token,labels,here,a,b,c",
            ],
            "attention" => &["#attention?v=1&rule=compare&d=3", "#attention?v=1&d=1"],
            _ => &["#energy?v=1&steer=on"],
        };
        links.extend(crowded.iter().map(|h| (h.to_string(), h.to_string())));
        let mut checked = 0;
        let mut failures = Vec::new();
        for (name, hash) in links {
            let (state, _) = E::from_hash(&hash);
            let (models, _) = E::native_models(&state);
            let mut scene = E::new_scene(&state, &models);
            E::run_to_end(&mut scene);
            for info in E::figures() {
                let phone = |w: u32| (w, (info.page_height)(f64::from(w)).round() as u32);
                for size in [E::default_size(&scene, info.name), phone(358), phone(286)] {
                    let svg = E::render_svg(&scene, info.name, size, E::at(&state));
                    let drawn = texts(&svg);
                    for (i, a) in drawn.iter().enumerate() {
                        for b in &drawn[i + 1..] {
                            let apart = a.span.1 <= b.span.0 + 1.0 || b.span.1 <= a.span.0 + 1.0;
                            if a.line == b.line
                                && !apart
                                && !a.text.is_empty()
                                && !b.text.is_empty()
                            {
                                failures.push(format!(
                                    "{} {name} {} {size:?}: {:?} and {:?} overlap",
                                    E::NAME,
                                    info.name,
                                    a.text,
                                    b.text
                                ));
                            }
                        }
                    }
                    for t in drawn {
                        checked += 1;
                        if t.span.0 < -1.0 || t.span.1 > f64::from(size.0) + 1.0 {
                            failures.push(format!(
                                "{} {name} {} {size:?}: {:?} runs outside the figure ({:.0}..{:.0} px)",
                                E::NAME,
                                info.name,
                                t.text,
                                t.span.0,
                                t.span.1
                            ));
                        }
                        let ratio = contrast_ratio(&t.fill, &BACKGROUND);
                        if ratio < 4.5 {
                            failures.push(format!(
                                "{} {name} {} {size:?}: {:?} at {ratio:.2}:1 ({} px)",
                                E::NAME,
                                info.name,
                                t.text,
                                t.size
                            ));
                        }
                    }
                }
            }
        }
        (checked, failures)
    }
}

#[test]
fn figure_text_reads_at_aa_contrast_inside_every_figure() {
    let mut all = Vec::new();
    for name in NAMES {
        let (checked, failures) = dispatch(name, Check).expect("a known explorer");
        assert!(checked > 50, "{name}: only {checked} texts drawn");
        all.extend(failures);
    }
    assert!(
        all.is_empty(),
        "{} texts below 4.5:1, outside their figure or overlapping:\n{}",
        all.len(),
        all.join("\n")
    );
}

#[test]
fn the_svg_reader_sees_a_pale_fill_as_pale() {
    // The check above must be able to fail: a grey label at 2.3:1 is read as such.
    let svg =
        r##"<text x="1" y="2" font-size="10.5" opacity="1" fill="#AAAAC8">iso-energy</text>"##;
    let t = &texts(svg)[0];
    assert_eq!(t.text, "iso-energy");
    assert!(contrast_ratio(&t.fill, &BACKGROUND) < 2.5);
    let faded = r##"<text x="1" y="2" font-size="10.5" opacity="0.4" fill="#222222">x</text>"##;
    assert!(contrast_ratio(&texts(faded)[0].fill, &BACKGROUND) < 4.5);
}

struct Stems;

impl Visit for Stems {
    type Output = Vec<String>;
    fn visit<E: Native>(self) -> Vec<String> {
        std::iter::once(String::new())
            .chain(E::presets().iter().map(|p| p.hash.to_string()))
            .map(|hash| E::file_stem(&E::from_hash(&hash).0))
            .collect()
    }
}

#[test]
fn every_explorer_names_its_files_by_one_scheme() {
    for name in NAMES {
        for stem in dispatch(name, Stems).expect("a known explorer") {
            assert!(
                stem.starts_with(&format!("token-dynamics_{name}_")),
                "{name}: {stem}"
            );
            assert!(
                stem.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{stem}"
            );
        }
    }
}
