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
                self.field = match &doc {
                    Some(d) => path_at(d, span.start),
                    None => syntax_context(text, span.start),
                };
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
            // A long line is shown as a window around the offending text.
            let len = src.chars().count();
            let (from, to) = if len <= MAX_LINE {
                (0, len)
            } else {
                let from = (col - 1).saturating_sub(MAX_LINE / 3);
                (from, (from + MAX_LINE).min(len))
            };
            let shown: String = src.chars().skip(from).take(to - from).collect();
            let before = if from > 0 { "…" } else { "" };
            let after = if to < len { "…" } else { "" };
            let caret_at = col - 1 - from + before.chars().count();
            let width = width.min(to.saturating_sub(col - 1)).max(1);
            let gutter = " ".repeat(line_no.to_string().len());
            self.line = Some(line_no);
            self.column = Some(col);
            self.excerpt = Some(format!(
                "{gutter} |\n{line_no} | {before}{shown}{after}\n{gutter} | {}{}",
                " ".repeat(caret_at),
                "^".repeat(width)
            ));
        }
        self.fit()
    }

    /// Cuts a long message and field with `…` so that the error fits one screen.
    pub(crate) fn fit(mut self) -> Self {
        self.message = clip(&self.message, MAX_MESSAGE);
        self.field = self.field.map(|f| clip(&f, MAX_FIELD));
        self
    }

    /// A scenario file that is not UTF-8 text: the byte offset, line and column of the first
    /// bad byte.
    pub fn not_utf8(bytes: &[u8], error: &std::str::Utf8Error) -> Self {
        let at = error.valid_up_to();
        let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: Some(valid.matches('\n').count() + 1),
            column: Some(valid[line_start..].chars().count() + 1),
            field: None,
            message: format!(
                "not UTF-8 text: byte 0x{:02X} at byte offset {at} is not valid UTF-8 (save the file as UTF-8)",
                bytes[at]
            ),
            excerpt: None,
        }
    }
}

/// The dotted path of the innermost key or value at byte `offset`; between entries, the
/// table whose header comes last before `offset`, at any depth (a `[fleet.os]` header placed
/// after `[mdm_migration]` belongs to `fleet.os`, not to `mdm_migration`).
fn path_at(doc: &toml_edit::Document<String>, offset: usize) -> Option<String> {
    let mut found = Found::default();
    visit(doc.as_table(), offset, &mut Vec::new(), &mut found);
    found
        .hit
        .or(found.header.map(|(_, p)| p))
        .filter(|p| !p.is_empty())
        .map(|p| p.join("."))
}

#[derive(Default)]
struct Found {
    /// The innermost key or value containing the offset.
    hit: Option<Vec<String>>,
    /// The last table header starting at or before the offset.
    header: Option<(usize, Vec<String>)>,
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn visit(table: &toml_edit::Table, offset: usize, path: &mut Vec<String>, found: &mut Found) {
    for (k, item) in table.iter() {
        let key_span = table.get_key_value(k).and_then(|(key, _)| key.span());
        path.push(k.to_string());
        if contains(key_span.clone(), offset) {
            found.hit = Some(path.clone());
        }
        match item {
            toml_edit::Item::Table(t) => {
                visit_table(t, offset, path, found);
            }
            toml_edit::Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    *path.last_mut().expect("pushed") = format!("{k}[{i}]");
                    visit_table(t, offset, path, found);
                }
            }
            toml_edit::Item::Value(v) => {
                if contains(v.span(), offset) {
                    found.hit = Some(path.clone());
                    if let toml_edit::Value::InlineTable(t) = v {
                        for (ik, iv) in t.iter() {
                            let ks = t.get_key_value(ik).and_then(|(key, _)| key.span());
                            if contains(ks, offset) || contains(iv.span(), offset) {
                                let mut p = path.clone();
                                p.push(ik.to_string());
                                found.hit = Some(p);
                            }
                        }
                    }
                }
            }
            toml_edit::Item::None => {}
        }
        path.pop();
    }
}

fn visit_table(t: &toml_edit::Table, offset: usize, path: &mut Vec<String>, found: &mut Found) {
    if let Some(s) = t.span() {
        if s.start <= offset && found.header.as_ref().is_none_or(|h| h.0 <= s.start) {
            found.header = Some((s.start, path.clone()));
        }
    }
    visit(t, offset, path, found);
}

/// For a file the parser could not read: `table.key` of the line at `offset`, from the text
/// (the last `[table]` header before it and the key before `=` on its line).
fn syntax_context(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let header_of = |l: &str| -> Option<String> {
        let l = l.trim();
        let inner = l.strip_prefix('[')?.split(']').next()?;
        let inner = inner.trim_start_matches('[').trim();
        (!inner.is_empty()).then(|| inner.to_string())
    };
    let line = &text[line_start..line_end];
    if let Some(h) = header_of(line) {
        return Some(h);
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.is_empty() && !k.contains(['[', '{', '#']));
    let table = text[..line_start].lines().rev().find_map(header_of);
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// `s` cut to at most `max` characters, with `…` in place of the rest.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Longest message, field and excerpt line, in characters: an error fits one screen.
const MAX_MESSAGE: usize = 600;
const MAX_FIELD: usize = 100;
const MAX_LINE: usize = 100;

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
