//! The README's link table documents every key of the parameter table, and every preset link in the
//! code is a clean link.

use token_dynamics::next_token::params::PARAMS;

#[test]
fn readme_documents_every_link_key() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
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
