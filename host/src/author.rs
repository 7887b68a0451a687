//! Who made a change: `Name <email>`, as the commit that carries it will name them.

use anyhow::{Context, Result, bail};

/// Who made a change: `Name <email>`, as commits will carry it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Author {
    /// Parse `Name <email>`.
    pub fn parse(text: &str) -> Result<Author> {
        let (name, rest) = text.split_once('<').context("write the author as \"Name <email>\"")?;
        let email = rest
            .strip_suffix('>')
            .context("write the author as \"Name <email>\"")?
            .trim();
        let name = name.trim();
        if name.is_empty() || !email.contains('@') || email.contains(char::is_whitespace) {
            bail!("`{text}` is not \"Name <email>\"");
        }
        // The rules the commit will apply, checked now: a change whose author Git refuses would
        // block the queue at the next pass.
        if let Err(e) = git2::Signature::now(name, email) {
            bail!(
                "`{}` cannot be a commit's author: {}; use a name and an email without `<`, `>` or line breaks",
                text.escape_debug(),
                e.message()
            );
        }
        if [name, email]
            .iter()
            .any(|p| p.contains(['<', '>']) || p.contains(char::is_control))
        {
            bail!(
                "`{}` cannot be a commit's author: a name or email with `<`, `>` or a line break; write it as \"Name <email>\"",
                text.escape_debug()
            );
        }
        Ok(Author {
            name: name.to_string(),
            email: email.to_string(),
        })
    }
}

impl std::fmt::Display for Author {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}
