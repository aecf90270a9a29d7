//! The README's link table documents every key of the parameter table, and every preset link in the
//! code is a clean link.

use td_next_token::params::PARAMS;

#[test]
fn readme_documents_every_link_key() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let table_start = readme
        .find("| key | meaning |")
        .expect("README has the link table");
    let table = &readme[table_start..];
    for param in PARAMS {
        assert!(
            table.contains(&format!("`{}`", param.key)),
            "README's link table does not mention `{}`",
            param.key
        );
    }
}

#[test]
fn readme_documents_every_attention_link_key() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section_start = readme
        .find("### Attention explorer links")
        .expect("README has the attention link section");
    let section = &readme[section_start..];
    let table_start = section
        .find("| key | meaning |")
        .expect("the attention section has a link table");
    // The table: its consecutive lines starting with '|'.
    let table: String = section[table_start..]
        .lines()
        .take_while(|line| line.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    for param in td_attention::params::PARAMS {
        assert!(
            table.contains(&format!("`{}`", param.key)),
            "README's attention link table does not mention `{}`",
            param.key
        );
    }
}

#[test]
fn readme_documents_every_energy_link_key() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section_start = readme
        .find("### Energy lab links")
        .expect("README has the energy link section");
    let section = &readme[section_start..];
    let table_start = section
        .find("| key | meaning |")
        .expect("the energy section has a link table");
    let table: String = section[table_start..]
        .lines()
        .take_while(|line| line.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    for param in td_energy::params::PARAMS {
        assert!(
            table.contains(&format!("`{}`", param.key)),
            "README's energy link table does not mention `{}`",
            param.key
        );
    }
}

/// The site's pages (www/site.json, from which the navigation that boot.js and the page route by
/// is built) are exactly the explorers the Rust code dispatches on, in the same order, and each has
/// its page part and its page crate.
#[test]
fn the_site_has_one_page_per_explorer() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let site = std::fs::read_to_string(format!("{root}/www/site.json")).unwrap();
    let named: Vec<&str> = site
        .split("\"explorer\": \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(named, token_dynamics::explorers::NAMES);
    for name in named {
        assert!(
            std::path::Path::new(&format!("{root}/www/pages/{name}.html")).exists(),
            "www/pages/{name}.html missing"
        );
        let manifest = std::fs::read_to_string(format!("{root}/pages/{name}/Cargo.toml"))
            .unwrap_or_else(|e| panic!("pages/{name}/Cargo.toml: {e}"));
        assert!(manifest.contains(&format!("name = \"td-page-{name}\"")));
    }
}

/// Issue "every sentence is true", case 11: the energy formula is our assumption (the paper's
/// definitions were not available), so wherever the README writes it as a formula it says so in
/// the same sentence; and it never calls a stand-in or assumption "the paper's" rule or definition.
#[test]
fn readme_labels_the_energy_formula_as_our_assumption() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let text = readme.replace('\n', " ");
    for sentence in text.split(". ") {
        if sentence.contains("E = K + U") {
            assert!(
                sentence.contains("our assumed form") || sentence.contains("our assumption"),
                "E = K + U without saying, in the same sentence, that it is our assumption:\n{sentence}"
            );
        }
    }
    for claim in [
        "the paper's definition of E",
        "the paper's localmax rule is",
        "the paper's energy E =",
    ] {
        assert!(!readme.contains(claim), "README says {claim:?}");
    }
}
