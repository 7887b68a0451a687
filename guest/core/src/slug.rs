//! Slugs: lowercase ASCII letters, digits and `-` (docs/layout.md).

/// Derive a slug from a name: lowercase, every run of other characters becomes one `-`, trimmed.
/// This is the product's rule (event slugs are derived with it), so non-ASCII letters are dropped.
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

/// A slug to propose for a file name that is not one: as `slugify`, with accented Latin letters
/// folded to their base letter first (`commandes-été` → `commandes-ete`, not `commandes-t`).
pub fn suggest_slug(name: &str) -> String {
    let mut buf = [0u8; 4];
    let folded: String = name
        .chars()
        .map(|c| fold(c).unwrap_or_else(|| c.encode_utf8(&mut buf)).to_string())
        .collect();
    slugify(&folded)
}

/// The ASCII letters of a Latin-1 or Latin Extended-A letter (U+00C0–U+017F), lowercase; `-` for `×`
/// and `÷`.
fn fold(c: char) -> Option<&'static str> {
    let i = c as usize;
    match i {
        0xC0..=0xFF => Some(LATIN_1[i - 0xC0]),
        0x100..=0x17F => Some(LATIN_EXTENDED_A[i - 0x100]),
        _ => None,
    }
}

const LATIN_1: [&str; 64] = [
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", "d", "n", "o", "o", "o", "o", "o",
    "-", "o", "u", "u", "u", "u", "y", "th", "ss", "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i",
    "i", "i", "i", "d", "n", "o", "o", "o", "o", "o", "-", "o", "u", "u", "u", "u", "y", "th", "y",
];

const LATIN_EXTENDED_A: [&str; 128] = [
    "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d", "d", "d", "e", "e", "e", "e", "e",
    "e", "e", "e", "e", "e", "g", "g", "g", "g", "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i",
    "i", "i", "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l", "l", "l", "l", "n",
    "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o", "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r",
    "s", "s", "s", "s", "s", "s", "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u", "u",
    "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
];

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

    #[test]
    fn accented_latin_letters_fold_to_their_base_letter() {
        assert_eq!(suggest_slug("commandes-été"), "commandes-ete");
        assert_eq!(suggest_slug("Größe × Preis"), "grosse-preis");
        assert_eq!(suggest_slug("Łódź Œuvre ĳ"), "lodz-oeuvre-ij");
        assert_eq!(suggest_slug("日本 orders"), "orders");
    }
}
