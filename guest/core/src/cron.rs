//! Quartz cron syntax (the dialect sync schedules use): `sec min hour day-of-month month day-of-week [year]`.

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 7] = [
    Field {
        name: "seconds",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: &DAYS,
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
    },
];

/// Check a Quartz cron expression; the error says which field is wrong and why.
pub fn check(expr: &str) -> Result<(), String> {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    if !(6..=7).contains(&parts.len()) {
        return Err(format!("expected 6 or 7 fields, found {}", parts.len()));
    }
    for (i, part) in parts.iter().enumerate() {
        field(&FIELDS[i], part).map_err(|e| format!("{} field `{part}`: {e}", FIELDS[i].name))?;
    }
    let (dom, dow) = (parts[3], parts[5]);
    match (dom == "?", dow == "?") {
        (true, true) => Err("day-of-month and day-of-week cannot both be `?`".into()),
        (false, false) => Err("one of day-of-month and day-of-week must be `?`".into()),
        _ => Ok(()),
    }
}

fn field(f: &Field, text: &str) -> Result<(), String> {
    let day_field = f.name == "day-of-month" || f.name == "day-of-week";
    if text == "?" {
        return if day_field {
            Ok(())
        } else {
            Err("`?` is only allowed in the day fields".into())
        };
    }
    for item in text.split(',') {
        if item.is_empty() {
            return Err("empty list item".into());
        }
        item_ok(f, item)?;
    }
    Ok(())
}

fn item_ok(f: &Field, item: &str) -> Result<(), String> {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    if let Some(step) = step {
        let n: u32 = step.parse().map_err(|_| format!("step `{step}` is not a number"))?;
        if n == 0 || n > f.max {
            return Err(format!("step {n} is out of range 1-{}", f.max));
        }
    }
    if range == "*" {
        return Ok(());
    }
    if f.name == "day-of-month" {
        if range == "L" || range == "LW" {
            return Ok(());
        }
        if let Some(offset) = range.strip_prefix("L-") {
            return value(f, offset).map(|_| ());
        }
        if let Some(day) = range.strip_suffix('W') {
            return value(f, day).map(|_| ());
        }
    }
    if f.name == "day-of-week" {
        if range == "L" {
            return Ok(());
        }
        if let Some((day, nth)) = range.split_once('#') {
            value(f, day)?;
            return match nth.parse::<u32>() {
                Ok(1..=5) => Ok(()),
                _ => Err(format!("`#{nth}` must be 1-5")),
            };
        }
        if let Some(day) = range.strip_suffix('L') {
            return value(f, day).map(|_| ());
        }
    }
    match range.split_once('-') {
        Some((a, b)) => {
            value(f, a)?;
            value(f, b)?;
            Ok(())
        }
        None => value(f, range).map(|_| ()),
    }
}

fn value(f: &Field, text: &str) -> Result<u32, String> {
    if let Some(i) = f.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(f.min + i as u32);
    }
    let n: u32 = text.parse().map_err(|_| format!("`{text}` is not a number or name"))?;
    if n < f.min || n > f.max {
        return Err(format!("{n} is out of range {}-{}", f.min, f.max));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn valid_quartz_expressions() {
        for e in [
            "0 0 12 * * ?",
            "0 15 10 ? * MON-FRI",
            "0 0/5 14,18 * * ?",
            "0 15 10 L * ?",
            "0 15 10 ? * 6#3",
            "0 0 0 1 JAN ? 2030",
            "0 11 11 11 11 ?",
            "0 15 10 ? * 6L",
        ] {
            assert_eq!(check(e), Ok(()), "{e}");
        }
    }

    #[test]
    fn invalid_expressions_say_why() {
        assert_eq!(check("0 12 * * *").unwrap_err(), "expected 6 or 7 fields, found 5");
        assert_eq!(
            check("0 0 25 * * ?").unwrap_err(),
            "hours field `25`: 25 is out of range 0-23"
        );
        assert_eq!(
            check("0 0 12 * * *").unwrap_err(),
            "one of day-of-month and day-of-week must be `?`"
        );
        assert_eq!(
            check("0 0 12 ? * FUNDAY").unwrap_err(),
            "day-of-week field `FUNDAY`: `FUNDAY` is not a number or name"
        );
    }
}
