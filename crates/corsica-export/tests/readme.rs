//! The README shows what the export writes: its example configuration (the
//! `<!-- export:config -->` block) exported to each target equals the block under
//! `<!-- export:TARGET -->`. `CORSICA_BLESS=1 cargo test -p corsica-export --test readme`
//! rewrites the blocks.

use std::path::Path;

use corsica_export::{Target, export};
use corsica_gateway::config::Config;

/// The text between `open` and the next `<!-- /export -->`, as a byte range.
fn block(readme: &str, open: &str) -> std::ops::Range<usize> {
    let start = readme
        .find(open)
        .unwrap_or_else(|| panic!("README.md has a {open} block"))
        + open.len();
    let end = start
        + readme[start..]
            .find("<!-- /export -->")
            .unwrap_or_else(|| panic!("README.md's {open} block is closed"));
    start..end
}

#[test]
fn readme_examples_are_the_exports() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let mut readme = std::fs::read_to_string(&path).expect("README.md");
    let config = &readme[block(&readme, "<!-- export:config -->\n")];
    let toml = config
        .strip_prefix("```toml\n")
        .and_then(|c| c.strip_suffix("```\n"))
        .expect("the configuration is one toml block");
    let config = Config::parse(toml, "README.md").expect("the README's example parses");
    let bless = std::env::var_os("CORSICA_BLESS").is_some();
    let mut stale = Vec::new();
    for target in Target::ALL {
        let out = export(&config, target).expect("the README's example exports");
        let (name, text) = &out.files()[0];
        let lang = match target {
            Target::Caddy => "caddy",
            _ => target.as_str(),
        };
        let shown = format!(
            "<details><summary>The generated <code>{name}</code></summary>\n\n```{lang}\n{text}```\n\n</details>\n"
        );
        let range = block(&readme, &format!("<!-- export:{target} -->\n"));
        if readme[range.clone()] != shown {
            if bless {
                readme.replace_range(range, &shown);
            } else {
                stale.push(target.as_str());
            }
        }
    }
    if bless {
        std::fs::write(&path, readme).expect("README.md written");
    }
    assert!(
        stale.is_empty(),
        "README.md's generated {stale:?} differ from the export; CORSICA_BLESS=1 cargo test -p corsica-export --test readme rewrites them"
    );
}
