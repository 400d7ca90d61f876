//! A flow's list of strings (labels, FQDNs), kept as the line's own JSON text when that text is plain.
//!
//! The scanner ([`crate::scan`]) meets label lists on every flow, and most flows are never asked for a single
//! label: the default filter looks at event types and directions, and the output record writes the list back out
//! as JSON. So when a list in the line is *compact* (no whitespace) and none of its strings holds an escape, the
//! scanner keeps only the list's text, `["a","b"]`: no allocation, nothing decoded. [`StrList::iter`] walks that
//! text on demand, and an encoder copies it with [`StrList::compact_json`] instead of escaping each item again.
//! Any other list (escapes, whitespace, or decoded by the serde path) is a `Vec` of borrowed-or-owned items, as
//! before. Both forms give the same items, the same `Debug` text and the same JSON.
//!
//! Guarantee: the text form holds only what the scanner checked. Its items are the runs between quotes, each
//! free of `"`, `\` and control bytes, separated by exactly `","`; the form is built inside this crate only.

use std::borrow::Cow;
use std::fmt;

/// A list of strings; see the module docs for its two forms.
#[derive(Clone, Default)]
pub struct StrList<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    /// A compact JSON array of strings without escapes, from the line (never `[]`: that is `Items(vec![])`).
    Json(&'a str),
    /// Decoded items.
    Items(Vec<Cow<'a, str>>),
}

impl Default for Repr<'_> {
    fn default() -> Self {
        Repr::Items(Vec::new())
    }
}

impl StrList<'static> {
    /// The empty list.
    pub const EMPTY: StrList<'static> = StrList(Repr::Items(Vec::new()));
}

impl<'a> StrList<'a> {
    /// The text form, for `text` the scanner checked: `[`, then one or more `"item"` joined by `,` with no
    /// whitespace, then `]`; no item holds `"`, `\` or a control byte.
    pub(crate) fn from_checked_json(text: &'a str) -> Self {
        debug_assert!(text.len() >= 4 && text.starts_with("[\"") && text.ends_with("\"]"));
        StrList(Repr::Json(text))
    }

    /// The items, in order.
    pub fn iter(&self) -> Iter<'_, 'a> {
        match &self.0 {
            Repr::Json(text) => Iter(IterRepr::Json { text, pos: 1 }),
            Repr::Items(items) => Iter(IterRepr::Items(items.iter())),
        }
    }

    /// How many items (counted by walking the text form).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Json(_) => self.iter().count(),
            Repr::Items(items) => items.len(),
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Json(_) => false,
            Repr::Items(items) => items.is_empty(),
        }
    }

    /// The first item.
    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }

    /// The list as a JSON array exactly as an encoder that escapes only what JSON requires writes one
    /// (`["a","b"]`, no whitespace; the binary's record encoder is such), when the line's own text is that: copy it
    /// instead of writing the items. `None` for the decoded form; write its items.
    pub fn compact_json(&self) -> Option<&'a str> {
        match self.0 {
            Repr::Json(text) => Some(text),
            Repr::Items(_) => None,
        }
    }
}

impl<'a> From<Vec<Cow<'a, str>>> for StrList<'a> {
    fn from(items: Vec<Cow<'a, str>>) -> Self {
        StrList(Repr::Items(items))
    }
}

/// Formats as the item list (`["a", "b"]`), whichever the form.
impl fmt::Debug for StrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when the items are, whichever the forms.
impl PartialEq for StrList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for StrList<'_> {}

impl<'s, 'a> IntoIterator for &'s StrList<'a> {
    type Item = &'s str;
    type IntoIter = Iter<'s, 'a>;
    fn into_iter(self) -> Iter<'s, 'a> {
        self.iter()
    }
}

/// The items of a [`StrList`].
#[derive(Debug, Clone)]
pub struct Iter<'s, 'a>(IterRepr<'s, 'a>);

#[derive(Debug, Clone)]
enum IterRepr<'s, 'a> {
    /// Walking the text form: `pos` is at the next item's opening quote, or at the closing `]`.
    Json { text: &'s str, pos: usize },
    /// Over the decoded items.
    Items(std::slice::Iter<'s, Cow<'a, str>>),
}

impl<'s> Iterator for Iter<'s, '_> {
    type Item = &'s str;

    #[inline]
    fn next(&mut self) -> Option<&'s str> {
        match &mut self.0 {
            IterRepr::Items(items) => items.next().map(|c| &**c),
            IterRepr::Json { text, pos } => {
                // At `"item"` followed by `,` or `]`; anything else (only the end, by the form's guarantee) ends.
                let bytes = text.as_bytes();
                if bytes.get(*pos) != Some(&b'"') {
                    return None;
                }
                let start = *pos + 1;
                let end = start + memchr::memchr(b'"', bytes.get(start..)?)?;
                *pos = end + 2;
                text.get(start..end)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(items: &[&str]) -> String {
        let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
        format!("[{}]", quoted.join(","))
    }

    #[test]
    fn the_text_form_gives_the_items_the_decoded_form_gives() {
        for items in [
            vec!["k8s:app=a"],
            vec!["", "x"],
            vec!["k8s:app=a", "reserved:world", "", "cidr:1.2.3.0/24", "é"],
        ] {
            let t = text(&items);
            let json = StrList::from_checked_json(&t);
            let decoded =
                StrList::from(items.iter().map(|&s| Cow::Borrowed(s)).collect::<Vec<_>>());
            assert_eq!(json.iter().collect::<Vec<_>>(), items);
            assert_eq!(json.len(), items.len());
            assert_eq!(json.first(), Some(items[0]));
            assert!(!json.is_empty());
            assert_eq!(json, decoded);
            assert_eq!(format!("{json:?}"), format!("{decoded:?}"));
            assert_eq!(format!("{json:#?}"), format!("{items:#?}"));
            assert_eq!(json.compact_json(), Some(t.as_str()));
            assert_eq!(decoded.compact_json(), None);
        }
    }

    #[test]
    fn the_empty_list_is_the_decoded_form() {
        let l = StrList::default();
        assert!(l.is_empty());
        assert_eq!(l.len(), 0);
        assert_eq!(l.first(), None);
        assert_eq!(l.compact_json(), None);
        assert_eq!(format!("{l:?}"), "[]");
    }
}
