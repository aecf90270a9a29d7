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
