//! Slugs: lowercase ASCII letters, digits and `-` (docs/layout.md).

/// Derive a slug from a name: lowercase, every run of other characters becomes one `-`, trimmed.
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out
}

/// Whether `s` is already a slug.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// The slug of an event: `<slug(name or type)>-<contract slug>-<version>`.
pub fn event_slug(name_or_type: &str, contract: &str, version: &str) -> String {
    format!("{}-{}-{}", slugify(name_or_type), contract, slugify(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_follows_the_spec() {
        assert_eq!(slugify("Stocking list"), "stocking-list");
        assert_eq!(slugify("  Orders (EU) -- v2 "), "orders-eu-v2");
        assert_eq!(slugify("Ünïcode"), "n-code");
        assert_eq!(slugify("---"), "");
    }

    #[test]
    fn event_slug_matches_the_reference_example() {
        assert_eq!(event_slug("Sample Event", "web", "default"), "sample-event-web-default");
    }

    #[test]
    fn is_slug_rejects_case_and_spaces() {
        assert!(is_slug("stocking-list"));
        assert!(!is_slug("Stocking-List"));
        assert!(!is_slug("stocking list"));
        assert!(!is_slug("-x"));
        assert!(!is_slug(""));
    }
}
