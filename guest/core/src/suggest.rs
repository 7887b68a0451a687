//! "Did you mean": near misses for names that compare case-sensitively.

/// The candidate closest to `wanted`: the same but for case, else within a small edit distance.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = wanted.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == wanted {
            continue;
        }
        let d = if c.to_lowercase() == lower {
            0
        } else {
            distance(&lower, &c.to_lowercase())
        };
        let limit = (wanted.chars().count() / 3).clamp(1, 3);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_only_differences_win() {
        assert_eq!(closest("Source", ["source", "name", "type"]), Some("source"));
        assert_eq!(
            closest("Aliased-Postgres", ["aliased-postgres", "x"]),
            Some("aliased-postgres")
        );
    }

    #[test]
    fn small_typos_are_found_and_far_ones_are_not() {
        assert_eq!(closest("primaryKy", ["primaryKey", "primaryLabel"]), Some("primaryKey"));
        assert_eq!(closest("zzz", ["primaryKey"]), None);
    }
}
