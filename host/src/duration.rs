//! Durations as people write them on a command line: `30s`, `500ms`, `5m`, `12h`, `1h 30m`
//! (humantime's forms); a bare number is seconds.

use std::time::Duration;

/// Parse a duration flag's value; the error says what was wrong and shows the forms taken.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("`{s}` is too large a number of seconds"));
    }
    humantime::parse_duration(t).map_err(|e| format!("`{s}` is not a duration like 30s, 500ms, 5m or 1h 30m ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_forms_people_write() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("45"), Ok(Duration::from_secs(45)));
        let e = parse("5 parsecs").unwrap_err();
        assert!(e.starts_with("`5 parsecs` is not a duration like 30s"), "{e}");
    }
}
