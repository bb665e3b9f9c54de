//! Scenario errors that name the line, column and field, and say what was expected.

use std::fmt;
use std::ops::Range;

/// A scenario that cannot be run, with where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScenarioError {
    /// 1-based line of the offending text, when known.
    pub line: Option<usize>,
    /// 1-based column of the offending text, when known.
    pub column: Option<usize>,
    /// Dotted path of the field, such as `enrollment.failure_rate`, when known.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The offending line of the file, with a caret under the offending text.
    pub excerpt: Option<String>,
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(line) = self.line {
            write!(f, "line {line}")?;
            if let Some(col) = self.column {
                write!(f, ", column {col}")?;
            }
            sep = ": ";
        }
        if let Some(field) = &self.field {
            write!(f, "{sep}field `{field}`")?;
            sep = ": ";
        }
        write!(f, "{sep}{}", self.message)?;
        if let Some(excerpt) = &self.excerpt {
            write!(f, "\n{excerpt}")?;
        }
        Ok(())
    }
}

impl ScenarioError {
    /// An error about `field` (dotted path), located later against the text.
    pub(crate) fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            field: Some(field.into()),
            message: message.into(),
            excerpt: None,
        }
    }

    /// An error without a place in a file (for command-line overrides).
    pub fn plain(message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            field: None,
            message: message.into(),
            excerpt: None,
        }
    }

    /// Fills in line, column, field and excerpt from `span` in `text`, or from the field path.
    pub(crate) fn locate(mut self, text: &str, span: Option<Range<usize>>) -> Self {
        let doc = text.parse::<toml_edit::Document<String>>().ok();
        let span = span.or_else(|| {
            let doc = doc.as_ref()?;
            span_of_path(doc, self.field.as_deref()?)
        });
        if let Some(span) = span {
            if self.field.is_none() {
                self.field = doc.as_ref().and_then(|d| path_at(d, span.start));
            }
            let start = span.start.min(text.len());
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            let line_no = text[..start].matches('\n').count() + 1;
            let col = text[line_start..start].chars().count() + 1;
            let src = &text[line_start..line_end];
            let width = text[start..span.end.clamp(start, line_end)]
                .chars()
                .count()
                .max(1);
            let gutter = " ".repeat(line_no.to_string().len());
            self.line = Some(line_no);
            self.column = Some(col);
            self.excerpt = Some(format!(
                "{gutter} |\n{line_no} | {src}\n{gutter} | {}{}",
                " ".repeat(col - 1),
                "^".repeat(width)
            ));
        }
        self
    }
}

/// The dotted path of the innermost key or value at byte `offset`.
fn path_at(doc: &toml_edit::Document<String>, offset: usize) -> Option<String> {
    let mut path = Vec::new();
    walk_table(doc.as_table(), offset, &mut path);
    (!path.is_empty()).then(|| path.join("."))
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn walk_table(table: &toml_edit::Table, offset: usize, path: &mut Vec<String>) {
    // The innermost enclosing entry wins; tables are visited in file order, and a table's
    // header is not its body, so look for the nearest preceding entry too.
    let mut best: Option<(usize, String, &toml_edit::Item)> = None;
    for (k, item) in table.iter() {
        let Some((key, _)) = table.get_key_value(k) else {
            continue;
        };
        if contains(key.span(), offset) || contains(item.span(), offset) {
            path.push(k.to_string());
            descend(item, offset, path);
            return;
        }
        if let toml_edit::Item::Table(t) = item {
            if let Some(s) = t.span() {
                if s.start <= offset && best.as_ref().is_none_or(|b| b.0 <= s.start) {
                    best = Some((s.start, k.to_string(), item));
                }
            }
        }
        if let toml_edit::Item::ArrayOfTables(a) = item {
            for (i, t) in a.iter().enumerate() {
                if let Some(s) = t.span() {
                    if s.start <= offset && best.as_ref().is_none_or(|b| b.0 <= s.start) {
                        best = Some((s.start, format!("{k}[{i}]"), item));
                    }
                }
            }
        }
    }
    if let Some((_, name, item)) = best {
        match item {
            toml_edit::Item::Table(t) => {
                path.push(name);
                walk_table(t, offset, path);
            }
            toml_edit::Item::ArrayOfTables(a) => {
                let idx: usize = name
                    .rsplit_once('[')
                    .and_then(|(_, i)| i.trim_end_matches(']').parse().ok())
                    .unwrap_or(0);
                path.push(name);
                if let Some(t) = a.get(idx) {
                    walk_table(t, offset, path);
                }
            }
            _ => {}
        }
    }
}

fn descend(item: &toml_edit::Item, offset: usize, path: &mut Vec<String>) {
    match item {
        toml_edit::Item::Table(t) => walk_table(t, offset, path),
        toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
            for (k, v) in t.iter() {
                let key_span = t.get_key_value(k).and_then(|(key, _)| key.span());
                if contains(key_span, offset) || contains(v.span(), offset) {
                    path.push(k.to_string());
                    return;
                }
            }
        }
        _ => {}
    }
}

/// The span of the value at a dotted path such as `fleet.os` or `collections[1].name`.
fn span_of_path(doc: &toml_edit::Document<String>, path: &str) -> Option<Range<usize>> {
    let mut item = doc.as_item();
    let mut last_key_span = None;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let (key, next) = match item {
            toml_edit::Item::Table(t) => t.get_key_value(name)?,
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                let (k, _) = t.get_key_value(name)?;
                (k, t.get(name).map(|_| item)?)
            }
            _ => return last_key_span,
        };
        last_key_span = key.span();
        item = next;
        if let (Some(i), toml_edit::Item::ArrayOfTables(a)) = (index, item) {
            let t = a.get(i)?;
            last_key_span = t.span().or(last_key_span);
            return last_key_span;
        }
    }
    item.span().or(last_key_span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_a_field_by_path() {
        let text = "name = 'x'\n\n[enrollment]\nfailure_rate = 3\n";
        let e = ScenarioError::field("enrollment.failure_rate", "bad").locate(text, None);
        assert_eq!(e.line, Some(4));
        assert_eq!(e.column, Some(16));
        assert!(
            e.to_string()
                .starts_with("line 4, column 16: field `enrollment.failure_rate`: bad")
        );
    }

    #[test]
    fn finds_the_field_at_a_span() {
        let text = "name = 'x'\n[fleet]\ndevices = 5\n[fleet.os]\nwin10_22h2 = 2\n";
        let at = text.find("2\n").unwrap();
        let e = ScenarioError::plain("bad").locate(text, Some(at..at + 1));
        assert_eq!(e.line, Some(5));
        assert_eq!(e.field.as_deref(), Some("fleet.os.win10_22h2"));
    }
}
