//! An endpoint's workloads, kept as the line's own JSON text when that text is plain, as
//! [`crate::str_list`] does for lists of strings.
//!
//! The exporter writes each workload as `{"name":"…","kind":"…"}`. When the whole list is in exactly that form
//! (both members, in that order, nothing else, no whitespace, no escapes), the scanner keeps the list's text:
//! no allocation, nothing decoded; [`WorkloadList::iter`] walks it on demand and an encoder copies it with
//! [`WorkloadList::compact_json`]. Any other list (a missing member, another key, whitespace, escapes, or one
//! decoded by the serde path) is a `Vec` of [`Workload`]s. Both forms give the same items, the same `Debug`
//! text and the same JSON.
//!
//! Guarantee: the text form holds only what the scanner checked; it is built inside this crate only.
//! `flow.Workload` itself is declared here ([`crate::flow`] re-exports it), so the modules import one way.

use crate::json::{list, opt_str};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;

/// An item's text: `{"name":"` name `","kind":"` kind `"}` (the scanner checks for this form).
pub(crate) const NAME: &[u8] = b"{\"name\":\"";
pub(crate) const KIND: &[u8] = b"\",\"kind\":\"";
const END: &[u8] = b"\"}";

/// `flow.Workload`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Workload<'a> {
    /// Workload name.
    #[serde(borrow, deserialize_with = "opt_str")]
    pub name: Option<Cow<'a, str>>,
    /// Workload kind (`Deployment`, ...).
    #[serde(borrow, deserialize_with = "opt_str")]
    pub kind: Option<Cow<'a, str>>,
}

/// `deserialize_with` for an endpoint's workloads: the decoded form (serde's path never keeps text).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<WorkloadList<'de>, D::Error> {
    list(d).map(WorkloadList::from)
}

/// An endpoint's workloads; see the module docs for its two forms.
#[derive(Default)]
pub struct WorkloadList<'a>(Repr<'a>);

enum Repr<'a> {
    /// `[` items joined by `,` `]`, each item `{"name":"N","kind":"K"}` with no `"`, `\` or control byte in N
    /// or K; never empty.
    Json(&'a str),
    /// Decoded items.
    Items(Vec<Workload<'a>>),
}

impl Default for Repr<'_> {
    fn default() -> Self {
        Repr::Items(Vec::new())
    }
}

/// One workload, borrowed from its list.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkloadRef<'s> {
    /// Workload name.
    pub name: Option<&'s str>,
    /// Workload kind (`Deployment`, ...).
    pub kind: Option<&'s str>,
}

/// Formats as [`Workload`] does, so both forms of a list print alike.
impl fmt::Debug for WorkloadRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workload")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

impl<'a> WorkloadList<'a> {
    /// The text form, for `text` the scanner checked (see [`Repr::Json`]).
    pub(crate) fn from_checked_json(text: &'a str) -> Self {
        debug_assert!(text.as_bytes().starts_with(b"[{\"name\":\"") && text.ends_with("\"}]"));
        WorkloadList(Repr::Json(text))
    }

    /// The workloads, in order.
    pub fn iter(&self) -> Iter<'_, 'a> {
        match &self.0 {
            Repr::Json(text) => Iter(IterRepr::Json { text, pos: 1 }),
            Repr::Items(items) => Iter(IterRepr::Items(items.iter())),
        }
    }

    /// How many workloads (counted by walking the text form).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Json(_) => self.iter().count(),
            Repr::Items(items) => items.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Json(_) => false,
            Repr::Items(items) => items.is_empty(),
        }
    }

    /// The first workload.
    pub fn first(&self) -> Option<WorkloadRef<'_>> {
        self.iter().next()
    }

    /// The list as JSON exactly as an encoder writes it that puts `name` before `kind`, leaves out absent
    /// members and escapes only what JSON requires (the binary's record encoder is such), when the line's own
    /// text is that: copy it instead of writing the items. `None` for the decoded form.
    pub fn compact_json(&self) -> Option<&'a str> {
        match self.0 {
            Repr::Json(text) => Some(text),
            Repr::Items(_) => None,
        }
    }
}

impl<'a> From<Vec<Workload<'a>>> for WorkloadList<'a> {
    fn from(items: Vec<Workload<'a>>) -> Self {
        WorkloadList(Repr::Items(items))
    }
}

/// Formats as the list of [`Workload`]s, whichever the form.
impl fmt::Debug for WorkloadList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when the workloads are, whichever the forms.
impl PartialEq for WorkloadList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for WorkloadList<'_> {}

impl<'s, 'a> IntoIterator for &'s WorkloadList<'a> {
    type Item = WorkloadRef<'s>;
    type IntoIter = Iter<'s, 'a>;
    fn into_iter(self) -> Iter<'s, 'a> {
        self.iter()
    }
}

/// The workloads of a [`WorkloadList`].
#[derive(Debug, Clone)]
pub struct Iter<'s, 'a>(IterRepr<'s, 'a>);

#[derive(Debug, Clone)]
enum IterRepr<'s, 'a> {
    /// Walking the text form: `pos` is at the next item's `{`, or at the closing `]`.
    Json { text: &'s str, pos: usize },
    /// Over the decoded items.
    Items(std::slice::Iter<'s, Workload<'a>>),
}

/// Where the quoted run starting at `from` ends (its closing `"`), given that it holds no quote.
fn run_end(bytes: &[u8], from: usize) -> Option<usize> {
    Some(from + memchr::memchr(b'"', bytes.get(from..)?)?)
}

impl<'s> Iterator for Iter<'s, '_> {
    type Item = WorkloadRef<'s>;

    #[inline]
    fn next(&mut self) -> Option<WorkloadRef<'s>> {
        match &mut self.0 {
            IterRepr::Items(items) => items.next().map(|w| WorkloadRef {
                name: w.name.as_deref(),
                kind: w.kind.as_deref(),
            }),
            IterRepr::Json { text, pos } => {
                // At `{"name":"N","kind":"K"}` followed by `,` or `]`; anything else (only the end, by the form's
                // guarantee) ends.
                let bytes = text.as_bytes();
                if !bytes.get(*pos..)?.starts_with(NAME) {
                    return None;
                }
                let name_start = *pos + NAME.len();
                let name_end = run_end(bytes, name_start)?;
                let kind_start = name_end + KIND.len();
                let kind_end = run_end(bytes, kind_start)?;
                *pos = kind_end + END.len() + 1;
                Some(WorkloadRef {
                    name: Some(text.get(name_start..name_end)?),
                    kind: Some(text.get(kind_start..kind_end)?),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(items: &[(&str, &str)]) -> String {
        let objects: Vec<String> = items
            .iter()
            .map(|(n, k)| format!(r#"{{"name":"{n}","kind":"{k}"}}"#))
            .collect();
        format!("[{}]", objects.join(","))
    }

    #[test]
    fn the_text_form_gives_the_items_the_decoded_form_gives() {
        for items in [
            vec![("frontend", "Deployment")],
            vec![("", ""), ("cron-2", "CronJob"), ("é😀<b>", "Job")],
        ] {
            let t = text(&items);
            let json = WorkloadList::from_checked_json(&t);
            let decoded = WorkloadList::from(
                items
                    .iter()
                    .map(|&(n, k)| Workload {
                        name: Some(Cow::Borrowed(n)),
                        kind: Some(Cow::Borrowed(k)),
                    })
                    .collect::<Vec<_>>(),
            );
            let expected: Vec<WorkloadRef<'_>> = items
                .iter()
                .map(|&(n, k)| WorkloadRef {
                    name: Some(n),
                    kind: Some(k),
                })
                .collect();
            assert_eq!(json.iter().collect::<Vec<_>>(), expected);
            assert_eq!(json.len(), items.len());
            assert_eq!(json.first(), expected.first().copied());
            assert_eq!(json, decoded);
            assert_eq!(format!("{json:?}"), format!("{decoded:?}"));
            let vec_of_workloads: Vec<Workload<'_>> = items
                .iter()
                .map(|&(n, k)| Workload {
                    name: Some(n.into()),
                    kind: Some(k.into()),
                })
                .collect();
            assert_eq!(format!("{json:?}"), format!("{vec_of_workloads:?}"));
            assert_eq!(json.compact_json(), Some(t.as_str()));
            assert_eq!(decoded.compact_json(), None);
        }
    }

    #[test]
    fn the_empty_list_is_the_decoded_form() {
        let l = WorkloadList::default();
        assert!(l.is_empty());
        assert_eq!(l.len(), 0);
        assert_eq!(l.first(), None);
        assert_eq!(l.compact_json(), None);
        assert_eq!(format!("{l:?}"), "[]");
    }
}
