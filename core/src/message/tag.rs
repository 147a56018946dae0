//! Tags, tag hash codes and TAG subscription expressions (messages.md §5).
//!
//! The broker filters by a 32-bit code per tag, Java's `String.hashCode()` over UTF-16
//! code units. A client must compute it the same way for non-ASCII tags, or its
//! subscription silently misses messages.
//!
//! ```
//! use rocketmq_proto::message::{parse_tag_expression, tag_hash, TagExpression};
//! assert_eq!(tag_hash("标签"), 857175);
//! let TagExpression::Tags(tags) = parse_tag_expression("TagA || TagB") else { unreachable!() };
//! let v: Vec<_> = tags.map(|t| (t.tag, t.code)).collect();
//! assert_eq!(v, [("TagA", 2598919), ("TagB", 2598920)]);
//! assert!(parse_tag_expression("*").is_all());
//! ```

/// The subscription expression that matches every message.
pub const SUB_ALL: &str = "*";
/// Separator of tags in a TAG subscription expression.
pub const TAG_SEPARATOR: &str = "||";

/// Java `String.hashCode()` of a tag: `h = 31*h + c` over UTF-16 code units, wrapping.
/// The broker stores it (widened to i64) as the message's `tagsCode`.
pub fn tag_hash(tag: &str) -> i32 {
    tag.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// One tag of a subscription with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag<'a> {
    /// The trimmed tag.
    pub tag: &'a str,
    /// [`tag_hash`] of it.
    pub code: i32,
}

/// A parsed TAG subscription (`FilterAPI.buildSubscriptionData`).
#[derive(Debug, Clone)]
pub enum TagExpression<'a> {
    /// Empty or `*`: every message.
    All,
    /// The listed tags (trimmed, empty parts dropped). Duplicates are yielded as written;
    /// Java keeps them in a set. An expression with no non-empty part matches nothing.
    Tags(TagIter<'a>),
}

impl<'a> TagExpression<'a> {
    /// Whether this subscribes to everything.
    pub fn is_all(&self) -> bool {
        matches!(self, TagExpression::All)
    }

    /// The `subString` Java sends for this expression given the original `expr`: `*`
    /// when it subscribes to all, else `expr` itself.
    pub fn sub_string(&self, expr: &'a str) -> &'a str {
        if self.is_all() {
            SUB_ALL
        } else {
            expr
        }
    }

    /// Broker-side filtering: does a message with `tags_code` match?
    pub fn matches_code(&self, tags_code: i32) -> bool {
        match self {
            TagExpression::All => true,
            TagExpression::Tags(t) => t.clone().any(|t| t.code == tags_code),
        }
    }

    /// Client-side filtering (messages.md §2.5): exact tag membership; a message without
    /// a tag matches only [`TagExpression::All`].
    pub fn matches_tag(&self, tag: Option<&str>) -> bool {
        match self {
            TagExpression::All => true,
            TagExpression::Tags(t) => tag.is_some_and(|tag| t.clone().any(|t| t.tag == tag)),
        }
    }
}

/// Parse a TAG subscription expression: empty or exactly `*` → [`TagExpression::All`];
/// otherwise split on `||`, trim (Java `trim`: chars ≤ U+0020), drop empty parts.
pub fn parse_tag_expression(expr: &str) -> TagExpression<'_> {
    if expr.is_empty() || expr == SUB_ALL {
        TagExpression::All
    } else {
        TagExpression::Tags(TagIter { rest: Some(expr) })
    }
}

/// The tags of a [`TagExpression::Tags`].
#[derive(Debug, Clone)]
pub struct TagIter<'a> {
    /// What follows the last separator; `None` once the last part was taken.
    rest: Option<&'a str>,
}

impl<'a> TagIter<'a> {
    /// The next part between [`TAG_SEPARATOR`]s, as `str::split` gives them (leftmost
    /// matches, not overlapping); scanned by hand, since `split` with a `&str` pattern
    /// brings a substring searcher into a firmware for one two-byte separator.
    fn next_part(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        let sep = TAG_SEPARATOR.as_bytes();
        match rest.as_bytes().windows(sep.len()).position(|w| w == sep) {
            // The separator is ASCII: both cuts are on character boundaries.
            Some(i) => {
                self.rest = rest.get(i + sep.len()..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

impl<'a> Iterator for TagIter<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        while let Some(part) = self.next_part() {
            let tag = part.trim_matches(|c: char| c <= ' ');
            if !tag.is_empty() {
                return Some(Tag {
                    tag,
                    code: tag_hash(tag),
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn tags_split_as_str_split_does(expr in "[a|b é\t*]{0,24}") {
            let got: Vec<&str> = match parse_tag_expression(&expr) {
                TagExpression::All => {
                    prop_assert!(expr.is_empty() || expr == SUB_ALL);
                    return Ok(());
                }
                TagExpression::Tags(t) => t.map(|t| t.tag).collect(),
            };
            let want: Vec<&str> = expr
                .split(TAG_SEPARATOR)
                .map(|p| p.trim_matches(|c: char| c <= ' '))
                .filter(|p| !p.is_empty())
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn runs_of_bars_split_leftmost_first() {
        let tags = |e| match parse_tag_expression(e) {
            TagExpression::Tags(t) => t.map(|t| t.tag).collect::<Vec<_>>(),
            TagExpression::All => Vec::new(),
        };
        assert_eq!(tags("a|||b"), ["a", "|b"]);
        assert_eq!(tags("a||||b"), ["a", "b"]);
        assert_eq!(tags("||a|| b ||"), ["a", "b"]);
        assert_eq!(tags("a|b"), ["a|b"]);
    }
}
