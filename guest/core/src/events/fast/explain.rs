//! The one broken keyword of an invalid event, worded exactly as `jsonschema` words it.

#[allow(unused_imports)]
use super::*;

/// A broken keyword found by `explain`, as `jsonschema` reports it.
#[derive(Debug)]
pub(crate) enum Failure {
    Type,
    Enum,
    Const,
    Minimum,
    Maximum,
    ExclusiveMinimum,
    ExclusiveMaximum,
    MinLength(u64),
    MaxLength(u64),
    MinItems(u64),
    MaxItems(u64),
    MinProperties(u64),
    MaxProperties(u64),
    Required(String),
}

pub(crate) struct Problem<'c> {
    pub(crate) node: usize,
    pub(crate) checks: &'c Checks,
    pub(crate) failure: Failure,
}

impl Problem<'_> {
    /// The message `jsonschema` writes for this failure (its `ValidationError` display).
    pub(crate) fn message(&self, instance: impl FnOnce() -> Option<String>) -> Option<String> {
        let c = self.checks;
        let plural = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        if let Failure::Required(name) = &self.failure {
            return Some(format!("{} is a required property", Value::from(name.as_str())));
        }
        let inst = instance()?;
        Some(match &self.failure {
            Failure::Type => format!("{inst} is not of type \"{}\"", type_name(c.types?)?),
            Failure::Enum => {
                let options = c.enumeration.as_ref()?;
                let mut m = format!("{inst} is not one of ");
                if options.len() <= 3 {
                    for (i, o) in options.iter().enumerate() {
                        let sep = match i {
                            0 => "",
                            _ if i == options.len() - 1 => " or ",
                            _ => ", ",
                        };
                        m.push_str(&format!("{sep}{o}"));
                    }
                } else {
                    m.push_str(&format!(
                        "{}, {} or {} other candidates",
                        options[0],
                        options[1],
                        options.len() - 2
                    ));
                }
                m
            }
            Failure::Const => format!("{} was expected", c.constant.as_ref()?),
            Failure::Minimum => format!("{inst} is less than the minimum of {}", c.minimum.as_ref()?.shown),
            Failure::Maximum => format!("{inst} is greater than the maximum of {}", c.maximum.as_ref()?.shown),
            Failure::ExclusiveMinimum => format!(
                "{inst} is less than or equal to the minimum of {}",
                c.exclusive_minimum.as_ref()?.shown
            ),
            Failure::ExclusiveMaximum => format!(
                "{inst} is greater than or equal to the maximum of {}",
                c.exclusive_maximum.as_ref()?.shown
            ),
            Failure::MinLength(l) => format!("{inst} is shorter than {l} {}", plural(*l, "character", "characters")),
            Failure::MaxLength(l) => format!("{inst} is longer than {l} {}", plural(*l, "character", "characters")),
            Failure::MinItems(l) => format!("{inst} has less than {l} {}", plural(*l, "item", "items")),
            Failure::MaxItems(l) => format!("{inst} has more than {l} {}", plural(*l, "item", "items")),
            Failure::MinProperties(l) => format!("{inst} has less than {l} {}", plural(*l, "property", "properties")),
            Failure::MaxProperties(l) => format!("{inst} has more than {l} {}", plural(*l, "property", "properties")),
            Failure::Required(_) => return None,
        })
    }
}
