//! Go `regexp` patterns (RE2 syntax as Go's `regexp/syntax` parses it with the `Perl` flags that
//! `regexp.Compile` uses), for the patterns Cilium compiles with Go: `http_path`, `http_url`, `dns_query` and the
//! FQDN / node-name patterns derived from `source_fqdn`, `destination_fqdn` and `node_name`.
//!
//! Owns: a validating parser for Go's syntax that produces a `regex-syntax` HIR, compiled by `regex-automata`'s
//! meta engine (the engine behind the `regex` crate, so matching speed is the `regex` crate's).
//!
//! Guarantees, following Go's parser rule by rule:
//! - a pattern Go rejects is rejected (Go's error kinds and messages): stacked repetition operators (`a**`,
//!   `a++`, `a{2}{3}`, `a*??`), a repetition without an argument, counts above 1000 or `min > max`, nested
//!   counted repetitions whose product exceeds 1000 (Go's `repeatIsValid`, integer division included), parse
//!   trees nested deeper than 1000, programs larger than Go's size budget, unknown flags (`(?x)`, `(?-u)`),
//!   unknown escapes (`\u`, `\cA`, `\C`, `\Z`, `\1`, `\b` in a class), invalid `\x{…}`, unknown class names,
//!   reversed class ranges (`[a--b]`), invalid capture names, look-around and backreferences;
//! - a pattern Go accepts compiles and matches exactly the strings Go's `MatchString` matches: `\d \s \w` and
//!   POSIX classes are ASCII; `\b \B` are ASCII word boundaries; `$` without `(?m)` is the end of the text; `.`
//!   excludes only `\n`; octal escapes (`\101`), `\x{…}`, `\Q…\E`; a `{` that is no repetition is a literal;
//!   `\p{…}` accepts Go's names (categories, category aliases such as `Letter`, scripts, `Any`, `ASCII`,
//!   `Assigned`, `LC`), matched case-insensitively ignoring spaces, `_` and `-` (Go ≥ 1.25), but no script
//!   aliases such as `Grek`; `(?i)` uses simple case folding and folds each class item before negating it, as
//!   Go does; duplicate capture names are allowed.
//!
//! Differences that remain: Unicode tables are those of `regex-syntax` (Unicode 16) and the script list is Go's
//! Unicode 15 list; a literal surrogate (`\x{D800}`) never matches (Go can only see U+FFFD there); a pattern
//! inside Go's size budget whose automaton exceeds [`NFA_SIZE_LIMIT`] is rejected with a size error.

use regex_automata::meta;
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, Look, Repetition};
use std::fmt;

/// Go's `maxHeight`: parse trees nested deeper than this are rejected.
const MAX_HEIGHT: usize = 1000;
/// Go's `maxSize` (128 MiB of 40-byte instructions).
const MAX_PROGRAM_SIZE: i64 = (128 << 20) / 40;
/// Go's limit on counted repetitions.
const MAX_REPEAT: i64 = 1000;
/// Size limit of the compiled Thompson NFA (the `regex` crate's default is 10 MiB; Go accepts `\pL{1000}`).
pub const NFA_SIZE_LIMIT: usize = 64 << 20;

/// A compiled Go regular expression.
#[derive(Clone)]
pub struct GoRegex {
    pattern: String,
    re: meta::Regex,
}

impl GoRegex {
    /// Whether the pattern matches anywhere in `haystack` (Go's `MatchString`).
    #[inline]
    pub fn is_match(&self, haystack: &str) -> bool {
        self.re.is_match(haystack)
    }

    /// The Go pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl fmt::Debug for GoRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GoRegex").field(&self.pattern).finish()
    }
}

/// Compiles a Go regular expression; the error reads like Go's (`error parsing regexp: …`).
pub fn compile(pattern: &str) -> Result<GoRegex, String> {
    let hir = parse(pattern).map_err(|e| e.to_string())?;
    let re = meta::Regex::builder()
        .configure(
            meta::Config::new()
                .nfa_size_limit(Some(NFA_SIZE_LIMIT))
                .utf8_empty(true),
        )
        .build_from_hir(&hir)
        .map_err(|e| format!("error compiling regexp {pattern:?}: {e}"))?;
    Ok(GoRegex {
        pattern: pattern.to_owned(),
        re,
    })
}

/// Go's syntax error kinds (`regexp/syntax.ErrorCode` texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `invalid character class`.
    InvalidCharClass,
    /// `invalid character class range`.
    InvalidCharRange,
    /// `invalid escape sequence`.
    InvalidEscape,
    /// `invalid named capture`.
    InvalidNamedCapture,
    /// `invalid or unsupported Perl syntax`.
    InvalidPerlOp,
    /// `invalid nested repetition operator`.
    InvalidRepeatOp,
    /// `invalid repeat count`.
    InvalidRepeatSize,
    /// `missing closing ]`.
    MissingBracket,
    /// `missing closing )`.
    MissingParen,
    /// `missing argument to repetition operator`.
    MissingRepeatArgument,
    /// `trailing backslash at end of expression`.
    TrailingBackslash,
    /// `unexpected )`.
    UnexpectedParen,
    /// `expression nests too deeply`.
    NestingDepth,
    /// `expression too large`.
    Large,
}

impl ErrorKind {
    fn text(self) -> &'static str {
        match self {
            ErrorKind::InvalidCharClass => "invalid character class",
            ErrorKind::InvalidCharRange => "invalid character class range",
            ErrorKind::InvalidEscape => "invalid escape sequence",
            ErrorKind::InvalidNamedCapture => "invalid named capture",
            ErrorKind::InvalidPerlOp => "invalid or unsupported Perl syntax",
            ErrorKind::InvalidRepeatOp => "invalid nested repetition operator",
            ErrorKind::InvalidRepeatSize => "invalid repeat count",
            ErrorKind::MissingBracket => "missing closing ]",
            ErrorKind::MissingParen => "missing closing )",
            ErrorKind::MissingRepeatArgument => "missing argument to repetition operator",
            ErrorKind::TrailingBackslash => "trailing backslash at end of expression",
            ErrorKind::UnexpectedParen => "unexpected )",
            ErrorKind::NestingDepth => "expression nests too deeply",
            ErrorKind::Large => "expression too large",
        }
    }
}

/// A pattern Go's parser rejects: the kind and the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub kind: ErrorKind,
    /// The part of the pattern Go names in its message.
    pub expr: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error parsing regexp: {}: `{}`",
            self.kind.text(),
            self.expr
        )
    }
}

impl std::error::Error for SyntaxError {}

fn error(kind: ErrorKind, expr: &str) -> SyntaxError {
    SyntaxError {
        kind,
        expr: expr.to_owned(),
    }
}

/// Parses a Go pattern into a HIR with Go's matching semantics.
pub fn parse(pattern: &str) -> Result<Hir, SyntaxError> {
    let mut p = Parser {
        src: pattern,
        pos: 0,
    };
    let node = p.parse_pattern()?;
    if node.size() > MAX_PROGRAM_SIZE {
        return Err(error(ErrorKind::Large, pattern));
    }
    Ok(node.into_hir())
}

/// The parse flags that change meaning (Go's `FoldCase`, `OneLine` negated as `multi_line`, `DotNL`).
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    fold_case: bool,
    multi_line: bool,
    dot_nl: bool,
}

/// Go's parse tree, as far as validation needs it (height, size, nested repeat counts).
#[derive(Debug)]
enum Node {
    Empty,
    /// A literal rune (a surrogate never matches); `fold` for `(?i)`.
    Literal(u32, bool),
    Class(ClassUnicode),
    Look(Look),
    Capture(Box<Node>),
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    /// `*`, `+`, `?` (`counted` false) or `{n,m}` (`counted`, `max` -1 for none).
    Repeat {
        min: i64,
        max: i64,
        counted: bool,
        sub: Box<Node>,
    },
}

impl Node {
    fn is_single_char(&self) -> bool {
        matches!(self, Node::Literal(..) | Node::Class(_))
    }

    /// Go's `calcSize`: an estimate of the compiled program's instruction count.
    fn size(&self) -> i64 {
        let mut node = self;
        let mut captures: i64 = 0;
        while let Node::Capture(sub) = node {
            captures += 2;
            node = sub;
        }
        node.size_of_non_capture().saturating_add(captures)
    }

    fn size_of_non_capture(&self) -> i64 {
        let s = match self {
            Node::Literal(..) => 1,
            Node::Capture(sub) => 2 + sub.size(),
            Node::Concat(v) => v.iter().map(Node::size).fold(0i64, i64::saturating_add),
            Node::Alternate(v) => v
                .iter()
                .map(Node::size)
                .fold(0i64, i64::saturating_add)
                .saturating_add(v.len().saturating_sub(1) as i64),
            Node::Repeat {
                min,
                max,
                counted,
                sub,
            } => {
                let sub = sub.size();
                if !counted {
                    // `*` is 2 + sub, `+` and `?` are 1 + sub.
                    if *min == 0 && *max == -1 {
                        2 + sub
                    } else {
                        1 + sub
                    }
                } else if *max == -1 {
                    if *min == 0 {
                        2 + sub
                    } else {
                        min.saturating_mul(sub).saturating_add(1)
                    }
                } else {
                    max.saturating_mul(sub).saturating_add(max - min)
                }
            }
            Node::Empty | Node::Class(_) | Node::Look(_) => 1,
        };
        s.max(1)
    }

    fn into_hir(mut self) -> Hir {
        // Capture groups do not change what matches; unwrap chains of them without recursion.
        while let Node::Capture(sub) = self {
            self = *sub;
        }
        match self {
            Node::Empty => Hir::empty(),
            Node::Literal(r, fold) => match char::from_u32(r) {
                None => Hir::fail(),
                Some(c) if fold => {
                    let mut cls = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
                    cls.case_fold_simple();
                    Hir::class(Class::Unicode(cls))
                }
                Some(c) => {
                    let mut buf = [0u8; 4];
                    Hir::literal(c.encode_utf8(&mut buf).as_bytes())
                }
            },
            Node::Class(c) => Hir::class(Class::Unicode(c)),
            Node::Look(l) => Hir::look(l),
            Node::Capture(sub) => sub.into_hir(),
            Node::Concat(v) => Hir::concat(v.into_iter().map(Node::into_hir).collect()),
            Node::Alternate(v) => Hir::alternation(v.into_iter().map(Node::into_hir).collect()),
            Node::Repeat { min, max, sub, .. } => Hir::repetition(Repetition {
                min: u32::try_from(min).unwrap_or(u32::MAX),
                max: u32::try_from(max).ok(),
                greedy: true,
                sub: Box::new(sub.into_hir()),
            }),
        }
    }
}

/// Go's `repeatIsValid`: the product of nested counted repetitions stays within `n`.
fn repeat_is_valid(mut node: &Node, mut n: i64) -> bool {
    while let Node::Capture(sub) = node {
        node = sub;
    }
    if let Node::Repeat {
        min,
        max,
        counted: true,
        ..
    } = node
    {
        let mut m = *max;
        if m == 0 {
            return true;
        }
        if m < 0 {
            m = *min;
        }
        if m > n {
            return false;
        }
        if m > 0 {
            n /= m;
        }
    }
    match node {
        Node::Capture(s) => repeat_is_valid(s, n),
        Node::Repeat { sub, .. } => repeat_is_valid(sub, n),
        Node::Concat(v) | Node::Alternate(v) => v.iter().all(|x| repeat_is_valid(x, n)),
        _ => true,
    }
}

/// What `(?…` opened.
enum PerlGroup {
    /// `(?flags)`: the flags for the rest of the current group.
    Flags(Flags),
    /// `(?flags:` or `(?P<name>`: a new group.
    Open { flags: Flags, capture: bool },
}

/// A parsed node with its height as Go counts it (literal runs and single-character alternations collapse
/// into one node; every capture, repetition, concatenation and alternation adds a level).
type Sized = (Node, usize);

/// A group being parsed: finished alternatives, the items of the current one, its flags.
struct Frame {
    flags: Flags,
    capture: bool,
    branches: Vec<Sized>,
    items: Vec<Sized>,
}

impl Frame {
    fn new(flags: Flags, capture: bool) -> Self {
        Frame {
            flags,
            capture,
            branches: Vec::new(),
            items: Vec::new(),
        }
    }

    /// The group's node; an error when it nests deeper than Go allows.
    fn finish(mut self, src: &str) -> Result<Sized, SyntaxError> {
        self.branches.push(concat(self.items));
        let (node, height) = alternate(self.branches);
        let (node, height) = if self.capture {
            (Node::Capture(Box::new(node)), height + 1)
        } else {
            (node, height)
        };
        if height > MAX_HEIGHT {
            return Err(error(ErrorKind::NestingDepth, src));
        }
        Ok((node, height))
    }
}

struct Parser<'p> {
    src: &'p str,
    pos: usize,
}

fn range(lo: u32, hi: u32) -> ClassUnicode {
    // Surrogates are not chars; Go can never see them in a string either.
    let mut out = ClassUnicode::empty();
    let mut push = |a: u32, b: u32| {
        if let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b)) {
            if a <= b {
                out.push(ClassUnicodeRange::new(a, b));
            }
        }
    };
    if hi < 0xD800 || lo > 0xDFFF {
        push(lo, hi);
    } else {
        if lo < 0xD800 {
            push(lo, 0xD7FF);
        }
        if hi > 0xDFFF {
            push(0xE000, hi);
        }
    }
    out
}

fn ascii_class(ranges: &[(u8, u8)]) -> ClassUnicode {
    ClassUnicode::new(
        ranges
            .iter()
            .map(|&(a, b)| ClassUnicodeRange::new(char::from(a), char::from(b))),
    )
}

/// Go's Perl classes (`\d \s \w`): ASCII.
fn perl_class(c: char) -> Option<(ClassUnicode, bool)> {
    let (ranges, negated): (&[(u8, u8)], bool) = match c {
        'd' => (&[(b'0', b'9')], false),
        'D' => (&[(b'0', b'9')], true),
        's' => (&[(b'\t', b'\n'), (0x0C, b'\r'), (b' ', b' ')], false),
        'S' => (&[(b'\t', b'\n'), (0x0C, b'\r'), (b' ', b' ')], true),
        'w' => (
            &[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')],
            false,
        ),
        'W' => (
            &[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')],
            true,
        ),
        _ => return None,
    };
    Some((ascii_class(ranges), negated))
}

/// Go's POSIX classes (`[:alpha:]` …): ASCII.
fn posix_class(name: &str) -> Option<&'static [(u8, u8)]> {
    Some(match name {
        "alnum" => &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')],
        "alpha" => &[(b'A', b'Z'), (b'a', b'z')],
        "ascii" => &[(0, 0x7F)],
        "blank" => &[(b'\t', b'\t'), (b' ', b' ')],
        "cntrl" => &[(0, 0x1F), (0x7F, 0x7F)],
        "digit" => &[(b'0', b'9')],
        "graph" => &[(b'!', b'~')],
        "lower" => &[(b'a', b'z')],
        "print" => &[(b' ', b'~')],
        "punct" => &[(b'!', b'/'), (b':', b'@'), (b'[', b'`'), (b'{', b'~')],
        "space" => &[(b'\t', b'\r'), (b' ', b' ')],
        "upper" => &[(b'A', b'Z')],
        "word" => &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z'), (b'_', b'_')],
        "xdigit" => &[(b'0', b'9'), (b'A', b'F'), (b'a', b'f')],
        _ => return None,
    })
}

/// A class item under the flags: folded first when `(?i)`, then negated (Go's `appendGroup` order).
fn group(mut cls: ClassUnicode, negated: bool, flags: Flags) -> ClassUnicode {
    if flags.fold_case {
        cls.case_fold_simple();
    }
    if negated {
        cls.negate();
    }
    cls
}

/// Go's `canonicalName`: first ASCII letter upper case, other ASCII letters lower case, `_ - space` removed.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut first = true;
    for c in name.chars() {
        match c {
            '_' | '-' | ' ' => continue,
            _ if first => {
                first = false;
                out.push(c.to_ascii_uppercase());
            }
            _ => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// Go's `unicode.Categories` keys (besides `LC`, handled as `Lc`).
const GO_CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Cn", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm",
    "So", "Z", "Zl", "Zp", "Zs",
];

/// Go's `unicode.CategoryAliases` (Unicode `PropertyValueAliases.txt`, `gc`).
const GO_CATEGORY_ALIASES: &[(&str, &str)] = &[
    ("Cased_Letter", "LC"),
    ("Close_Punctuation", "Pe"),
    ("Combining_Mark", "M"),
    ("Connector_Punctuation", "Pc"),
    ("Control", "Cc"),
    ("cntrl", "Cc"),
    ("Currency_Symbol", "Sc"),
    ("Dash_Punctuation", "Pd"),
    ("Decimal_Number", "Nd"),
    ("digit", "Nd"),
    ("Enclosing_Mark", "Me"),
    ("Final_Punctuation", "Pf"),
    ("Format", "Cf"),
    ("Initial_Punctuation", "Pi"),
    ("Letter", "L"),
    ("Letter_Number", "Nl"),
    ("Line_Separator", "Zl"),
    ("Lowercase_Letter", "Ll"),
    ("Mark", "M"),
    ("Math_Symbol", "Sm"),
    ("Modifier_Letter", "Lm"),
    ("Modifier_Symbol", "Sk"),
    ("Nonspacing_Mark", "Mn"),
    ("Number", "N"),
    ("Open_Punctuation", "Ps"),
    ("Other", "C"),
    ("Other_Letter", "Lo"),
    ("Other_Number", "No"),
    ("Other_Punctuation", "Po"),
    ("Other_Symbol", "So"),
    ("Paragraph_Separator", "Zp"),
    ("Private_Use", "Co"),
    ("Punctuation", "P"),
    ("punct", "P"),
    ("Separator", "Z"),
    ("Space_Separator", "Zs"),
    ("Spacing_Mark", "Mc"),
    ("Surrogate", "Cs"),
    ("Symbol", "S"),
    ("Titlecase_Letter", "Lt"),
    ("Unassigned", "Cn"),
    ("Uppercase_Letter", "Lu"),
];

/// Go's `unicode.Scripts` keys (Unicode 15.0).
const GO_SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// The class of a `regex-syntax` property expression such as `\p{gc=Lu}`.
fn rust_property(expr: &str) -> Option<ClassUnicode> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(expr)
        .ok()?;
    match hir.into_kind() {
        regex_syntax::hir::HirKind::Class(Class::Unicode(c)) => Some(c),
        _ => None,
    }
}

fn category_class(cat: &str) -> Option<ClassUnicode> {
    if cat == "C" {
        // Go's `unicode.C` is Cc, Cf, Co and Cs (no unassigned code points, unlike Unicode's `Other`).
        let mut c = ClassUnicode::empty();
        for sub in ["Cc", "Cf", "Co"] {
            c.union(&rust_property(&format!(r"\p{{gc={sub}}}"))?);
        }
        return Some(c);
    }
    if cat == "Cs" {
        return Some(ClassUnicode::empty());
    }
    rust_property(&format!(r"\p{{gc={cat}}}"))
}

/// Go's `unicodeTable` (Go ≥ 1.25): the class for a `\p{name}` name and whether it is to be negated.
fn unicode_table(name: &str) -> Option<(ClassUnicode, bool)> {
    let name = canonical_name(name);
    match name.as_str() {
        "Any" => return Some((range(0, 0x10FFFF), false)),
        "Assigned" => return Some((category_class("Cn")?, true)),
        "Ascii" => return Some((range(0, 0x7F), false)),
        "Lc" => return Some((category_class("LC")?, false)),
        _ => {}
    }
    if let Some(cat) = GO_CATEGORIES.iter().find(|c| **c == name) {
        return Some((category_class(cat)?, false));
    }
    if let Some(script) = GO_SCRIPTS.iter().find(|s| canonical_name(s) == name) {
        return Some((rust_property(&format!(r"\p{{sc={script}}}"))?, false));
    }
    if let Some((_, cat)) = GO_CATEGORY_ALIASES
        .iter()
        .find(|(alias, _)| canonical_name(alias) == name)
    {
        return Some((category_class(cat)?, false));
    }
    None
}

fn is_octal(c: Option<char>) -> bool {
    matches!(c, Some('0'..='7'))
}

fn unhex(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// Go's `parseInt` for repeat counts: no leading zeros; -1 when the value reaches 1e8.
fn parse_int(s: &str) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    if b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit() {
        return None;
    }
    let end = b
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(b.len());
    let mut n: i64 = 0;
    for &d in &b[..end] {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some((n, &s[end..]))
}

/// Go's `parseRepeat`: `{n}`, `{n,}`, `{n,m}` at the start of `s` → (min, max, rest); `max` -1 for none.
fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
    let s = s.strip_prefix('{')?;
    let (mut min, s) = parse_int(s)?;
    let (max, s) = if let Some(t) = s.strip_prefix(',') {
        if t.is_empty() {
            return None;
        }
        if let Some(rest) = t.strip_prefix('}') {
            return Some((min, -1, rest));
        }
        let (max, t) = parse_int(t)?;
        if max < 0 {
            min = -1;
        }
        (max, t)
    } else {
        (min, s)
    };
    let rest = s.strip_prefix('}')?;
    Some((min, max, rest))
}

impl<'p> Parser<'p> {
    fn rest(&self) -> &'p str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Parses the whole pattern with an explicit stack of open groups (no recursion, so nesting depth is only
    /// bounded by Go's rules).
    fn parse_pattern(&mut self) -> Result<Node, SyntaxError> {
        let mut open: Vec<Frame> = Vec::new();
        let mut cur = Frame::new(Flags::default(), false);
        let mut last_repeat: Option<usize> = None;
        loop {
            let start = self.pos;
            let Some(c) = self.peek() else {
                if !open.is_empty() {
                    return Err(error(ErrorKind::MissingParen, self.src));
                }
                return Ok(cur.finish(self.src)?.0);
            };
            let mut repeat_at = None;
            match c {
                '(' => {
                    if self.peek2() == Some('?') {
                        match self.parse_perl_group(cur.flags)? {
                            PerlGroup::Flags(f) => cur.flags = f,
                            PerlGroup::Open { flags, capture } => {
                                let parent =
                                    std::mem::replace(&mut cur, Frame::new(flags, capture));
                                open.push(parent);
                            }
                        }
                    } else {
                        self.bump();
                        let inner = Frame::new(cur.flags, true);
                        let parent = std::mem::replace(&mut cur, inner);
                        open.push(parent);
                    }
                }
                ')' => {
                    let Some(parent) = open.pop() else {
                        return Err(error(ErrorKind::UnexpectedParen, self.src));
                    };
                    self.bump();
                    let done = std::mem::replace(&mut cur, parent);
                    cur.items.push(done.finish(self.src)?);
                }
                '|' => {
                    self.bump();
                    let items = std::mem::take(&mut cur.items);
                    cur.branches.push(concat(items));
                }
                '^' => {
                    self.bump();
                    cur.items.push((
                        Node::Look(if cur.flags.multi_line {
                            Look::StartLF
                        } else {
                            Look::Start
                        }),
                        1,
                    ));
                }
                '$' => {
                    self.bump();
                    cur.items.push((
                        Node::Look(if cur.flags.multi_line {
                            Look::EndLF
                        } else {
                            Look::End
                        }),
                        1,
                    ));
                }
                '.' => {
                    self.bump();
                    let mut cls = range(0, 0x10FFFF);
                    if !cur.flags.dot_nl {
                        cls.difference(&range(u32::from(b'\n'), u32::from(b'\n')));
                    }
                    cur.items.push((Node::Class(cls), 1));
                }
                '[' => {
                    let cls = self.parse_class(cur.flags)?;
                    cur.items.push((Node::Class(cls), 1));
                }
                '*' | '+' | '?' => {
                    self.bump();
                    let (min, max) = match c {
                        '*' => (0, -1),
                        '+' => (1, -1),
                        _ => (0, 1),
                    };
                    self.repeat(&mut cur.items, min, max, false, start, last_repeat)?;
                    repeat_at = Some(start);
                }
                '{' => match parse_repeat(self.rest()) {
                    None => {
                        self.bump();
                        cur.items
                            .push((Node::Literal(u32::from('{'), cur.flags.fold_case), 1));
                    }
                    Some((min, max, rest)) => {
                        let end = self.src.len() - rest.len();
                        if !(0..=MAX_REPEAT).contains(&min)
                            || max > MAX_REPEAT
                            || (max >= 0 && min > max)
                        {
                            return Err(error(ErrorKind::InvalidRepeatSize, &self.src[start..end]));
                        }
                        self.pos = end;
                        self.repeat(&mut cur.items, min, max, true, start, last_repeat)?;
                        repeat_at = Some(start);
                    }
                },
                '\\' => self.parse_backslash(&mut cur.items, cur.flags)?,
                _ => {
                    self.bump();
                    cur.items
                        .push((Node::Literal(u32::from(c), cur.flags.fold_case), 1));
                }
            }
            last_repeat = repeat_at;
        }
    }

    /// Go's `repeat`: an optional `?` (non-greedy), no stacked operators, an argument, valid nested counts.
    fn repeat(
        &mut self,
        items: &mut Vec<Sized>,
        min: i64,
        max: i64,
        counted: bool,
        start: usize,
        last_repeat: Option<usize>,
    ) -> Result<(), SyntaxError> {
        if self.peek() == Some('?') {
            self.bump();
        }
        if let Some(prev) = last_repeat {
            return Err(error(ErrorKind::InvalidRepeatOp, &self.src[prev..self.pos]));
        }
        let Some((sub, sub_height)) = items.pop() else {
            return Err(error(
                ErrorKind::MissingRepeatArgument,
                &self.src[start..self.pos],
            ));
        };
        let node = Node::Repeat {
            min,
            max,
            counted,
            sub: Box::new(sub),
        };
        if counted && (min >= 2 || max >= 2) && !repeat_is_valid(&node, MAX_REPEAT) {
            return Err(error(
                ErrorKind::InvalidRepeatSize,
                &self.src[start..self.pos],
            ));
        }
        if sub_height + 1 > MAX_HEIGHT {
            return Err(error(ErrorKind::NestingDepth, self.src));
        }
        items.push((node, sub_height + 1));
        Ok(())
    }

    /// `(?…`: a named capture, a flag group `(?flags)` or a group `(?flags:re)` (Go's `parsePerlFlags`).
    fn parse_perl_group(&mut self, flags: Flags) -> Result<PerlGroup, SyntaxError> {
        let t = self.rest();
        let tb = t.as_bytes();
        if (tb.len() > 4 && tb[2] == b'P' && tb[3] == b'<') || (tb.len() > 3 && tb[2] == b'<') {
            let begin = if tb[2] == b'<' { 3 } else { 4 };
            let Some(end) = t.find('>') else {
                return Err(error(ErrorKind::InvalidNamedCapture, t));
            };
            let name = &t[begin..end];
            if name.is_empty() || !name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()) {
                return Err(error(ErrorKind::InvalidNamedCapture, &t[..=end]));
            }
            self.pos += end + 1;
            return Ok(PerlGroup::Open {
                flags,
                capture: true,
            });
        }
        let start = self.pos;
        self.pos += 2; // "(?"
        let mut new = flags;
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = self.bump() {
            match c {
                'i' | 'm' | 's' => {
                    let on = !negated;
                    match c {
                        'i' => new.fold_case = on,
                        'm' => new.multi_line = on,
                        _ => new.dot_nl = on,
                    }
                    saw_flag = true;
                }
                // Non-greedy swaps preference only; it cannot change what matches.
                'U' => saw_flag = true,
                '-' => {
                    if negated {
                        break;
                    }
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    return Ok(if c == ':' {
                        PerlGroup::Open {
                            flags: new,
                            capture: false,
                        }
                    } else {
                        PerlGroup::Flags(new)
                    });
                }
                _ => break,
            }
        }
        Err(error(ErrorKind::InvalidPerlOp, &self.src[start..self.pos]))
    }

    /// A backslash outside a class: assertions, `\Q…\E`, class escapes, or a single-character escape.
    fn parse_backslash(&mut self, items: &mut Vec<Sized>, flags: Flags) -> Result<(), SyntaxError> {
        let start = self.pos;
        match self.peek2() {
            Some('A') => {
                self.pos += 2;
                items.push((Node::Look(Look::Start), 1));
                return Ok(());
            }
            Some('z') => {
                self.pos += 2;
                items.push((Node::Look(Look::End), 1));
                return Ok(());
            }
            Some('b') => {
                self.pos += 2;
                items.push((Node::Look(Look::WordAscii), 1));
                return Ok(());
            }
            Some('B') => {
                self.pos += 2;
                items.push((Node::Look(Look::WordAsciiNegate), 1));
                return Ok(());
            }
            Some('C') => return Err(error(ErrorKind::InvalidEscape, r"\C")),
            Some('Q') => {
                self.pos += 2;
                let rest = self.rest();
                let (lit, consumed) = match rest.find(r"\E") {
                    Some(i) => (&rest[..i], i + 2),
                    None => (rest, rest.len()),
                };
                for ch in lit.chars() {
                    items.push((Node::Literal(u32::from(ch), flags.fold_case), 1));
                }
                self.pos += consumed;
                return Ok(());
            }
            _ => {}
        }
        if let Some(cls) = self.parse_unicode_class(flags)? {
            items.push((Node::Class(cls), 1));
            return Ok(());
        }
        if let Some(cls) = self.parse_perl_class(flags) {
            items.push((Node::Class(cls), 1));
            return Ok(());
        }
        self.pos = start;
        let r = self.parse_escape()?;
        items.push((Node::Literal(r, flags.fold_case), 1));
        Ok(())
    }

    /// `\p…`/`\P…` at the cursor: `Ok(None)` when there is none.
    fn parse_unicode_class(&mut self, flags: Flags) -> Result<Option<ClassUnicode>, SyntaxError> {
        let t = self.rest();
        let negated_p = match t.as_bytes() {
            [b'\\', b'p', ..] => false,
            [b'\\', b'P', ..] => true,
            _ => return Ok(None),
        };
        let after = &t[2..];
        let (seq_len, name) = match after.chars().next() {
            Some('{') => {
                let Some(end) = t.find('}') else {
                    return Err(error(ErrorKind::InvalidCharRange, t));
                };
                (end + 1, &t[3..end])
            }
            Some(c) => (2 + c.len_utf8(), &after[..c.len_utf8()]),
            None => (2, ""),
        };
        let seq = &t[..seq_len];
        let (negated_name, name) = match name.strip_prefix('^') {
            Some(n) => (true, n),
            None => (false, name),
        };
        let Some((cls, table_negated)) = unicode_table(name) else {
            return Err(error(ErrorKind::InvalidCharRange, seq));
        };
        self.pos += seq_len;
        let negated = negated_p ^ negated_name ^ table_negated;
        Ok(Some(group(cls, negated, flags)))
    }

    /// `\d \D \s \S \w \W` at the cursor.
    fn parse_perl_class(&mut self, flags: Flags) -> Option<ClassUnicode> {
        let t = self.rest();
        let c = t.strip_prefix('\\')?.chars().next()?;
        let (cls, negated) = perl_class(c)?;
        self.pos += 2;
        Some(group(cls, negated, flags))
    }

    /// Go's `parseEscape` at a backslash: one rune.
    fn parse_escape(&mut self) -> Result<u32, SyntaxError> {
        let start = self.pos;
        self.bump(); // the backslash
        let Some(c) = self.bump() else {
            return Err(error(ErrorKind::TrailingBackslash, ""));
        };
        let invalid = |p: &Self| error(ErrorKind::InvalidEscape, &p.src[start..p.pos]);
        match c {
            '1'..='7' if !is_octal(self.peek()) => Err(invalid(self)),
            '0'..='7' => {
                let mut r = c as u32 - u32::from(b'0');
                for _ in 1..3 {
                    if !is_octal(self.peek()) {
                        break;
                    }
                    let d = self.bump().map_or(0, |d| d as u32 - u32::from(b'0'));
                    r = r * 8 + d;
                }
                Ok(r)
            }
            'x' => {
                let Some(c) = self.bump() else {
                    return Err(invalid(self));
                };
                if c == '{' {
                    let mut r: u32 = 0;
                    let mut digits = 0;
                    loop {
                        let Some(c) = self.bump() else {
                            return Err(invalid(self));
                        };
                        if c == '}' {
                            break;
                        }
                        let Some(v) = unhex(c) else {
                            return Err(invalid(self));
                        };
                        r = r * 16 + v;
                        if r > 0x10FFFF {
                            return Err(invalid(self));
                        }
                        digits += 1;
                    }
                    if digits == 0 {
                        return Err(invalid(self));
                    }
                    return Ok(r);
                }
                let x = unhex(c);
                let y = self.bump().and_then(unhex);
                match (x, y) {
                    (Some(x), Some(y)) => Ok(x * 16 + y),
                    _ => Err(invalid(self)),
                }
            }
            'a' => Ok(0x07),
            'f' => Ok(0x0C),
            'n' => Ok(0x0A),
            'r' => Ok(0x0D),
            't' => Ok(0x09),
            'v' => Ok(0x0B),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(u32::from(c)),
            _ => Err(invalid(self)),
        }
    }

    /// Go's `parseClass` at `[`.
    fn parse_class(&mut self, flags: Flags) -> Result<ClassUnicode, SyntaxError> {
        let whole = self.rest();
        self.bump(); // [
        let mut negated = false;
        if self.peek() == Some('^') {
            self.bump();
            negated = true;
        }
        let mut cls = ClassUnicode::empty();
        let mut first = true;
        loop {
            match self.peek() {
                Some(']') if !first => break,
                None => return Err(error(ErrorKind::MissingBracket, whole)),
                _ => {}
            }
            first = false;
            let t = self.rest();
            // POSIX [:alpha:] / [:^alpha:]: Go looks for the first ":]" anywhere after "[:".
            if t.len() > 2 && t.starts_with("[:") {
                if let Some(i) = t[2..].find(":]") {
                    let full = &t[..i + 4];
                    let inner = &t[2..i + 2];
                    let (neg, name) = match inner.strip_prefix('^') {
                        Some(n) => (true, n),
                        None => (false, inner),
                    };
                    let Some(ranges) = posix_class(name) else {
                        return Err(error(ErrorKind::InvalidCharRange, full));
                    };
                    cls.union(&group(ascii_class(ranges), neg, flags));
                    self.pos += full.len();
                    continue;
                }
            }
            if let Some(u) = self.parse_unicode_class(flags)? {
                cls.union(&u);
                continue;
            }
            if let Some(p) = self.parse_perl_class(flags) {
                cls.union(&p);
                continue;
            }
            let range_start = self.pos;
            let lo = self.parse_class_char(whole)?;
            let mut hi = lo;
            let t = self.rest();
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                self.bump();
                hi = self.parse_class_char(whole)?;
                if hi < lo {
                    return Err(error(
                        ErrorKind::InvalidCharRange,
                        &self.src[range_start..self.pos],
                    ));
                }
            }
            cls.union(&group(range(lo, hi), false, flags));
        }
        self.bump(); // ]
        if negated {
            cls.negate();
        }
        Ok(cls)
    }

    fn parse_class_char(&mut self, whole: &str) -> Result<u32, SyntaxError> {
        match self.peek() {
            None => Err(error(ErrorKind::MissingBracket, whole)),
            Some('\\') => self.parse_escape(),
            Some(c) => {
                self.bump();
                Ok(u32::from(c))
            }
        }
    }
}

fn concat(mut items: Vec<Sized>) -> Sized {
    match items.len() {
        0 => (Node::Empty, 1),
        1 => items.pop().unwrap_or((Node::Empty, 1)),
        _ => {
            let literals = items.iter().all(|(n, _)| matches!(n, Node::Literal(..)));
            let height = if literals {
                1
            } else {
                1 + items.iter().map(|(_, h)| *h).max().unwrap_or(0)
            };
            (
                Node::Concat(items.into_iter().map(|(n, _)| n).collect()),
                height,
            )
        }
    }
}

fn alternate(mut branches: Vec<Sized>) -> Sized {
    match branches.len() {
        0 => (Node::Empty, 1),
        1 => branches.pop().unwrap_or((Node::Empty, 1)),
        _ => {
            let chars = branches.iter().all(|(n, _)| n.is_single_char());
            let height = if chars {
                1
            } else {
                1 + branches.iter().map(|(_, h)| *h).max().unwrap_or(0)
            };
            (
                Node::Alternate(branches.into_iter().map(|(n, _)| n).collect()),
                height,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        compile(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(s)
    }

    fn rejected(p: &str, kind: ErrorKind) {
        match parse(p) {
            Ok(_) => panic!("{p:?} accepted, Go rejects it"),
            Err(e) => assert_eq!(e.kind, kind, "{p:?}: {e}"),
        }
    }

    #[test]
    fn go_semantics_kept_from_the_translation() {
        assert!(m(r"/post/\d+", "/post/12"));
        assert!(!m(r"^\d$", "٣"), "Go \\d is ASCII");
        assert!(m(r"a{", "a{"));
        assert!(m(r"{foo}", "x{foo}"));
        assert!(m(r"x{2}", "xx"));
        assert!(m(r"a{,3}", "a{,3}"));
        assert!(m(r"\Qa.b\E", "a.b"));
        assert!(!m(r"\Qa.b\E", "axb"));
        assert!(m(r"[\d.]+$", "1.2"));
        assert!(m(r"[a[]", "["));
        assert!(m(r"[[:alpha:]]+", "abc"));
        assert!(m(r"[]a]", "]"));
        assert!(m(r"[a&&b]", "&"));
        assert!(compile("(").is_err());
        assert!(compile("*").is_err());
    }

    #[test]
    fn stacked_and_missing_repetitions() {
        for p in [
            "a**",
            "a++",
            "x*+",
            "a*??",
            "a{2}{3}",
            "a{2}*",
            "(x{2}){3}{4}",
        ] {
            rejected(p, ErrorKind::InvalidRepeatOp);
        }
        for p in ["*", "?", "a|*", "(*)", "{2}", "(?i)*", "a|(?i)+"] {
            rejected(p, ErrorKind::MissingRepeatArgument);
        }
        // Non-greedy suffixes and repetitions of groups are fine; a flag group does not separate operators
        // from their argument, a \Q\E does separate two operators.
        for (p, s, want) in [
            ("a+?", "aa", true),
            ("a{2}?", "aa", true),
            ("(?:a*)*", "", true),
            ("a(?i)*", "", true),
            ("x\\Q\\E*", "y", true),
            ("a*\\Q\\E*", "", true),
            ("^*a", "a", true),
        ] {
            assert_eq!(m(p, s), want, "{p}");
        }
    }

    #[test]
    fn repeat_counts() {
        assert!(m("^a{1000}$", &"a".repeat(1000)));
        for p in [
            "a{1001}",
            "a{2,1001}",
            "a{5,2}",
            "(a{1000}){1000}",
            "(a{100}){11}",
            "((a{10}){10}){11}",
            "(a{3}){334}",
            "a{100000000}",
        ] {
            rejected(p, ErrorKind::InvalidRepeatSize);
        }
        // Integer division as in Go: 1000/333 = 3 leaves room for an inner {3}.
        assert!(parse("(a{3}){333}").is_ok());
        assert!(parse("((a{10}){10}){10}").is_ok());
        // Not a repetition: literal braces (leading zeros, missing numbers, unclosed).
        for (p, s) in [
            ("a{01}", "a{01}"),
            ("a{1", "a{1"),
            ("a{1,2", "a{1,2"),
            ("a{,5}", "a{,5}"),
        ] {
            assert!(m(p, s), "{p}");
        }
        assert!(m(r"\pL{1000}", &"é".repeat(1000)));
    }

    #[test]
    fn flags() {
        for p in [
            "(?x)a", "(?-u:a)", "(?-u)a", "(?z)a", "(?i", "(?-)a", "(?i-)a", "(?--i)a", "(?R)",
        ] {
            rejected(p, ErrorKind::InvalidPerlOp);
        }
        assert!(m("(?ii)a", "A"));
        assert!(!m("(?i-i)a", "A"));
        assert!(m("(?i)a(?-i)b", "Ab"));
        assert!(!m("(?i)a(?-i)b", "AB"));
        assert!(m("a(?i:b)c", "aBc"));
        assert!(!m("(a(?i)b)c", "aBC"), "flags end with their group");
        assert!(m("(?s)a.c", "a\nc"));
        assert!(!m("a.c", "a\nc"));
        assert!(m("(?m)^b$", "a\nb\nc"));
        assert!(!m("^b$", "a\nb\nc"));
        assert!(!m("a$", "a\n"), "$ is the end of the text");
        assert!(m("(?U)a+", "aa"));
    }

    #[test]
    fn escapes() {
        for p in [
            r"\u0041",
            r"\U00000041",
            r"\x{110000}",
            r"\x{}",
            r"\x4",
            r"\xG1",
            r"\1",
            r"(a)\1",
            r"\8",
            r"\cA",
            r"\C",
            r"\Z",
            r"\X",
            r"\N{LATIN SMALL LETTER A}",
            r"\é",
            r"\E",
            r"[\b]",
            r"[\Q]\E]",
            r"[a-\d]",
        ] {
            rejected(p, ErrorKind::InvalidEscape);
        }
        rejected("\\", ErrorKind::TrailingBackslash);
        assert!(m(r"\101", "A"));
        assert!(m(r"\0101", "\u{8}1"));
        assert!(m(r"\12", "\n"));
        assert!(m(r"\0", "\0"));
        assert!(m(r"\x41\x{1F600}", "A😀"));
        assert!(m(r"\a\f\t\n\r\v", "\x07\x0c\t\n\r\x0b"));
        for p in [r"\_", r"\-", r"\/", r"\<", r"\ ", r"\#", r"\~", r"\%"] {
            assert!(parse(p).is_ok(), "{p}");
        }
        assert!(!m(r"\x{D800}", "\u{FFFD}"));
    }

    #[test]
    fn classes() {
        rejected("[a", ErrorKind::MissingBracket);
        rejected("[^]", ErrorKind::MissingBracket);
        rejected("[a--b]", ErrorKind::InvalidCharRange);
        rejected("[z-a]", ErrorKind::InvalidCharRange);
        rejected("[[:foo:]]", ErrorKind::InvalidCharRange);
        rejected("[[:ALPHA:]]", ErrorKind::InvalidCharRange);
        assert!(m("[a-z--aeiou]", "-"));
        assert!(m("[^]a]", "b") && !m("[^]a]", "]"));
        assert!(m("[a-]", "-") && m("[-a]", "-"));
        assert!(m(r"[\d-z]", "-"));
        assert!(m("[a-z[0-9]]", "5]"));
        assert!(!m("[a-z[0-9]]", "5"));
        assert!(m("[[:alpha]]", "a]"));
        assert!(m("[:alpha:]", "h"));
        assert!(m("[^a]", "\n"), "negated classes match newline");
        assert!(!m(r"[^\x00-\x{10FFFF}]", "a"));
        assert!(m("[[:^alpha:]]", "1") && !m("[[:^alpha:]]", "a"));
        assert!(m(r"\s", "\x0c") && !m(r"\s", "\x0b"), "Go \\s has no \\v");
        assert!(m("[[:space:]]", "\x0b"));
        assert!(!m(r"\w", "é"));
    }

    #[test]
    fn unicode_classes() {
        assert!(m(r"\p{Greek}", "α") && !m(r"\p{Greek}", "a"));
        assert!(m(r"\P{^Greek}", "α"));
        assert!(m(r"\pL", "é") && m(r"\pl", "é"));
        assert!(m(r"\p{Letter}", "é") && m(r"\p{lu}", "É") && m(r"\p{uppercase-letter}", "É"));
        assert!(m(r"\p{Old_Italic}", "\u{10300}") && m(r"\p{old italic}", "\u{10300}"));
        assert!(m(r"\p{ASCII}", "a") && !m(r"\p{ASCII}", "é"));
        assert!(m(r"\p{Assigned}", "a") && !m(r"\p{Assigned}", "\u{378}"));
        assert!(m(r"\p{Cn}", "\u{378}"));
        assert!(m(r"\p{LC}", "a") && !m(r"\p{LC}", "1"));
        assert!(m(r"\p{Any}", "\n"));
        assert!(
            !m(r"\p{C}", "\u{378}"),
            "Go's C has no unassigned code points"
        );
        for p in [
            r"\p{Grek}",
            r"\p{Zzzz}",
            r"\p{Script=Greek}",
            r"\p{IsGreek}",
            r"\p{L&}",
            r"\p{Emoji}",
            r"\p{White_Space}",
            r"\p{Lu",
            r"\p{}",
            r"\p",
        ] {
            rejected(p, ErrorKind::InvalidCharRange);
        }
    }

    #[test]
    fn case_folding() {
        assert!(m("(?i)k", "\u{212A}"));
        assert!(m("(?i)ß", "ẞ"));
        assert!(!m("(?i)straße", "STRASSE"));
        assert!(!m("(?i)[^k]", "\u{212A}"));
        assert!(!m(r"(?i)\W", "\u{212A}"), "fold before negation");
        assert!(m("(?i)[[:upper:]]", "a"));
        assert!(m(r"(?i)\p{Lu}", "a"));
        assert!(!m(r"(?i)\P{Lu}", "a"));
    }

    #[test]
    fn ascii_word_boundaries() {
        assert!(m(r"caf\b", "café"), "é is not an ASCII word character");
        assert!(!m(r"\bcafé\b", "café"), "no boundary between é and the end");
        assert!(m(r"\bcafé\b", "cafés"));
        assert!(!m(r"\B", "aéa"), "no empty match inside a code point");
        assert!(m(r"\B", "éé"));
        assert!(m(r"\Bx\B", "axa") && !m(r"\Bx\B", " x "));
    }

    #[test]
    fn groups() {
        assert!(m("(?P<n>a)(?P<n>b)", "ab"), "duplicate names are allowed");
        assert!(m("(?<name>x)", "x") && m("(?P<1a>x)", "x"));
        for p in [
            "(?P<a-b>x)",
            "(?P<a.b>x)",
            "(?P<>x)",
            "(?P<é>x)",
            "(?<=a)b",
            "(?<!a)b",
        ] {
            rejected(p, ErrorKind::InvalidNamedCapture);
        }
        rejected("(?P=name)", ErrorKind::InvalidPerlOp);
        rejected("(?!a)b", ErrorKind::InvalidPerlOp);
        rejected("a)", ErrorKind::UnexpectedParen);
        rejected("(a", ErrorKind::MissingParen);
        assert!(m("^(|a)$", "") && m("a||b", "b") && m("()", ""));
        let deep = format!("{}a{}", "(".repeat(1000), ")".repeat(1000));
        rejected(&deep, ErrorKind::NestingDepth);
        let ok = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(m(&ok, "a"));
        let nc = format!("{}a{}", "(?:".repeat(1001), ")".repeat(1001));
        assert!(m(&nc, "a"));
        // Deep inputs are refused while parsing, before any recursion over the tree: a flag group between two
        // operators lets them stack (Go accepts `a*(?i)*`), so only the height limit bounds such a chain.
        assert!(m("a*(?i)*", ""));
        let chain = format!("a{}", "*(?i)".repeat(200_000));
        rejected(&chain, ErrorKind::NestingDepth);
        let groups = format!("{}a{}", "(?:".repeat(200_000), ")*".repeat(200_000));
        rejected(&groups, ErrorKind::NestingDepth);
        let wide = format!("({})", "a|b*|".repeat(50_000));
        assert!(m(&wide, "bbb"));
    }
}
