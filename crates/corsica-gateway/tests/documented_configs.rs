//! The configurations the project documents must be valid: the README's TOML blocks, the
//! example file, and the embedded default.

use corsica_gateway::config::{Config, EMBEDDED_DEFAULT, Upstream};
use http::{HeaderMap, HeaderValue, Method};

fn repo_file(path: &str) -> String {
    let full = concat!(env!("CARGO_MANIFEST_DIR"), "/../../").to_owned() + path;
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn readme_toml_blocks_compile() {
    let readme = repo_file("README.md");
    let mut blocks = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("closed block");
        let block = &body[..end];
        if block.contains("[[route]]") {
            let c = Config::parse(block, "README.md")
                .unwrap_or_else(|e| panic!("README block {blocks}: {e}"));
            // What the README shows means what it says: no route that never matches.
            assert_eq!(c.warnings(), [], "README block {blocks}");
            blocks += 1;
        } else {
            // A fragment (the `[tls]` table, whose files exist only on a server): valid
            // TOML with only keys the gateway knows; the only error left is the missing file.
            let with_route = format!(
                "{block}\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n"
            );
            match Config::parse(&with_route, "README.md") {
                Ok(_) => {}
                Err(e) => assert!(
                    e.iter().all(|e| e.message().contains("cannot read")),
                    "README fragment: {e}"
                ),
            }
        }
        rest = &body[end..];
    }
    assert!(blocks >= 1, "the README shows a gateway configuration");
}

#[test]
fn example_file_compiles_with_the_documented_routes() {
    let c = Config::parse(&repo_file("examples/gateway.toml"), "examples/gateway.toml").unwrap();
    assert_eq!(c.warnings(), [], "examples/gateway.toml");
    let names: Vec<&str> = c.routes().iter().map(|r| r.name()).collect();
    assert_eq!(names, ["catalog", "orders", "users", "dev"]);
    // One route for the SaaS case: the company's front-ends with credentials, anyone else
    // read-only without.
    let catalog = c.routes()[0].policy();
    assert!(catalog.allows_credentials());
    assert_eq!(catalog.public().unwrap(), ["GET", "HEAD"]);
    let get = |origin: &str, method: Method| {
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_str(origin).unwrap());
        catalog.decide(&method, &h)
    };
    let own = get("https://app.example.com", Method::GET);
    assert_eq!(
        own.headers().allow_origin().unwrap(),
        "https://app.example.com"
    );
    assert!(own.headers().allow_credentials());
    let other = get("https://someone.example", Method::GET);
    assert_eq!(other.headers().allow_origin().unwrap(), "*");
    assert!(!other.headers().allow_credentials());
    assert!(!get("https://someone.example", Method::PUT).is_allowed());
    assert_eq!(c.routes()[3].upstream(), &Upstream::Echo);
}

#[test]
fn embedded_default_is_what_serve_prints() {
    let c = Config::parse(EMBEDDED_DEFAULT, "<embedded>").unwrap();
    assert_eq!(c.listen().to_string(), "127.0.0.1:8080");
    assert_eq!(c.routes()[0].upstream(), &Upstream::Echo);
}
