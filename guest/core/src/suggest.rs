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

/// Edit distance over characters where swapping two neighbours is one edit, as in `tabel` for
/// `table` (optimal string alignment: Levenshtein plus adjacent transpositions).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Rows i-2, i-1 and i of the distance table.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 0..a.len() {
        let mut cur = vec![i + 1; b.len() + 1];
        for j in 0..b.len() {
            let mut d = (prev[j] + usize::from(a[i] != b[j]))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                d = d.min(before[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        before = std::mem::replace(&mut prev, cur);
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

    #[test]
    fn a_swap_of_two_neighbours_is_one_edit() {
        assert_eq!(distance("tabel", "table"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(closest("tabel", ["raw_sql", "table", "dbt_model"]), Some("table"));
        assert_eq!(
            closest("dbt_modle", ["raw_sql", "table", "dbt_model"]),
            Some("dbt_model")
        );
    }
}
