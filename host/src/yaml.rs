//! YAML from sources cairn does not trust, read within bounds.
//!
//! Components, stacks and pull requests all hand cairn YAML: rendered
//! manifests, `stack.yaml`, `cairn.yaml`, `cairn.lock`, the journal, files in
//! the repo. A YAML parser that builds values first and asks questions later
//! can be made to do unbounded work: a kilobyte of anchors and aliases
//! expands to gigabytes, a deep flow nesting makes the scanner quadratic, and
//! merge keys (`<<`) make a document mean something else to a Kubernetes
//! client than to a reader who does not apply them.
//!
//! So every document is first walked as a stream of parser events, by the
//! same libyaml parser `serde_yaml` builds values with (no second parser to
//! disagree with), and refused before any value is built when it uses a
//! feature that has no place in a manifest (anchors, aliases, explicit tags,
//! merge keys) or exceeds the nesting depth or node count. The walk stops at
//! the first problem, so its cost is bounded by the input's size.

use std::fmt;
use std::mem::MaybeUninit;

use serde::de::DeserializeOwned;
use serde_yaml::Value;
use unsafe_libyaml;

/// How deep collections may nest. Real manifests stay below 40 (the deepest
/// CRD schemas in common use); `serde_yaml` itself stops at 128.
pub const MAX_DEPTH: usize = 64;
/// How many nodes (scalars and collections) one YAML stream may hold. Real
/// manifests and CRD bundles hold a few thousand.
pub const MAX_NODES: usize = 250_000;

/// Why YAML was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The parser's own error, with where it happened.
    #[error("{message} at line {line}, column {column}")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// A feature no manifest needs, refused before it is expanded.
    #[error("{feature} at line {line} is not allowed: {why}")]
    Feature {
        feature: &'static str,
        why: &'static str,
        line: usize,
    },
    #[error("collections nest deeper than {MAX_DEPTH} levels at line {line}")]
    TooDeep { line: usize },
    #[error("more than {MAX_NODES} nodes")]
    TooManyNodes,
    /// The value itself does not fit what was expected.
    #[error("{0}")]
    Shape(String),
}

impl Error {
    fn from_serde(err: &serde_yaml::Error) -> Self {
        let message = err.to_string();
        match err.location() {
            Some(at) => Error::Syntax {
                // serde_yaml appends the location itself; say it once.
                message: message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_string(),
                line: at.line(),
                column: at.column(),
            },
            None => Error::Shape(message),
        }
    }
}

/// Checks that `text` is plain YAML within the bounds, without building it.
pub fn check(text: &str) -> Result<(), Error> {
    let mut parser = Parser::new(text.as_bytes());
    let mut depth = 0usize;
    let mut nodes = 0usize;
    // Per open collection: for a mapping, whether the next node is a key.
    let mut open: Vec<Option<bool>> = Vec::new();
    loop {
        let event = parser.next()?;
        let line = event.line;
        let is_key = matches!(open.last(), Some(Some(true)));
        match &event.kind {
            Kind::StreamEnd => return Ok(()),
            Kind::Other => continue,
            Kind::Alias => {
                return Err(Error::Feature {
                    feature: "an alias (*name)",
                    why: "anchors and aliases have no place in a manifest; write the value out",
                    line,
                });
            }
            Kind::End => {
                open.pop();
                depth = depth.saturating_sub(1);
            }
            Kind::Node {
                anchor,
                tag,
                collection,
                merge_key,
                ..
            } => {
                if *anchor {
                    return Err(Error::Feature {
                        feature: "an anchor (&name)",
                        why: "anchors and aliases have no place in a manifest; write the value out",
                        line,
                    });
                }
                if *tag {
                    return Err(Error::Feature {
                        feature: "an explicit tag (!tag)",
                        why: "manifests hold plain values; remove the tag",
                        line,
                    });
                }
                if *merge_key && is_key {
                    return Err(Error::Feature {
                        feature: "a merge key (<<)",
                        why: "Kubernetes clients apply merge keys and cairn does not; write the merged mapping out",
                        line,
                    });
                }
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(Error::TooManyNodes);
                }
                // This node fills the parent's key or value slot.
                if let Some(Some(next_is_key)) = open.last_mut() {
                    *next_is_key = !*next_is_key;
                }
                if let Some(mapping) = collection {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Error::TooDeep { line });
                    }
                    open.push(mapping.then_some(true));
                }
            }
        }
    }
}

/// The documents of a YAML stream in order, each parsed, after [`check`]
/// (which failing gives one error and nothing else). A syntax error ends
/// the list. Empty documents (`---` alone) come out as `Null`. The one
/// place cairn splits a multi-document file.
pub fn documents(text: &str) -> Vec<Result<Value, Error>> {
    if let Err(err) = check(text) {
        return vec![Err(err)];
    }
    documents_checked(text)
}

/// Like [`documents`], for text this run has already passed through
/// [`check`] (a render's output after it was validated, or text cairn wrote
/// itself): the event walk is not repeated.
pub fn documents_checked(text: &str) -> Vec<Result<Value, Error>> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let parsed = Value::deserialize(document).map_err(|e| Error::from_serde(&e));
        let failed = parsed.is_err();
        out.push(parsed);
        if failed {
            break;
        }
    }
    out
}

/// Parses one document into `T`, after [`check`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    check(text)?;
    serde_yaml::from_str(text).map_err(|e| Error::from_serde(&e))
}

/// The line of every key of the first document of `text`, by its dotted
/// path (`values.app.replicas`, `hosts[2]`), for messages that point into a
/// file. Text that fails [`check`] has none.
pub fn key_lines(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut lines = std::collections::BTreeMap::new();
    if check(text).is_err() {
        return lines;
    }
    enum Frame {
        /// The mapping's path, and its key awaiting a value.
        Mapping(String, Option<String>),
        /// The sequence's path, and the next item's index.
        Sequence(String, usize),
    }
    let join = |path: &str, key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    let mut parser = Parser::keeping_scalars(text.as_bytes());
    let mut frames: Vec<Frame> = Vec::new();
    let mut documents = 0;
    while let Ok(event) = parser.next() {
        match event.kind {
            Kind::StreamEnd => break,
            Kind::Other if frames.is_empty() => {
                documents += 1;
                // Document start and end: stop after the first document.
                if documents > 2 {
                    break;
                }
            }
            Kind::Other | Kind::Alias => {}
            Kind::End => {
                frames.pop();
                if let Some(Frame::Mapping(_, key)) = frames.last_mut() {
                    *key = None;
                }
            }
            Kind::Node {
                collection, scalar, ..
            } => {
                let path = match frames.last_mut() {
                    None => String::new(),
                    Some(Frame::Mapping(path, key @ None)) => {
                        let name = scalar.unwrap_or_default();
                        let full = join(path, &name);
                        lines.entry(full).or_insert(event.line);
                        *key = Some(name);
                        continue;
                    }
                    Some(Frame::Mapping(path, key @ Some(_))) => {
                        let full = join(path, key.as_deref().unwrap_or(""));
                        *key = None;
                        full
                    }
                    Some(Frame::Sequence(path, index)) => {
                        let full = format!("{path}[{index}]");
                        lines.entry(full.clone()).or_insert(event.line);
                        *index += 1;
                        full
                    }
                };
                match collection {
                    Some(true) => frames.push(Frame::Mapping(path, None)),
                    Some(false) => frames.push(Frame::Sequence(path, 0)),
                    None => {}
                }
            }
        }
    }
    lines
}

/// One parser event, reduced to what [`check`] needs.
struct Event {
    line: usize,
    kind: Kind,
}

enum Kind {
    StreamEnd,
    Alias,
    /// A scalar, sequence or mapping start.
    Node {
        anchor: bool,
        tag: bool,
        /// `Some(true)` for a mapping, `Some(false)` for a sequence.
        collection: Option<bool>,
        /// A scalar whose text is `<<`.
        merge_key: bool,
        /// A scalar's text, when the parser keeps them (see
        /// [`Parser::keeping_scalars`]).
        scalar: Option<String>,
    },
    /// A sequence or mapping end.
    End,
    /// Stream and document starts and ends.
    Other,
}

/// libyaml's event parser over a borrowed input. The parser keeps a
/// pointer to itself, so it lives in a box and never moves.
struct Parser<'a> {
    parser: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    _input: &'a [u8],
    keep_scalars: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8]) -> Self {
        let mut sys = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        // SAFETY: `initialize` fills in the whole struct; the input outlives
        // the parser (its lifetime is tied to `'a`), and the box keeps the
        // parser at one address for the pointer it keeps to itself.
        unsafe {
            let parser = sys.as_mut_ptr();
            if unsafe_libyaml::yaml_parser_initialize(parser).fail {
                panic!("libyaml cannot allocate a parser");
            }
            unsafe_libyaml::yaml_parser_set_encoding(parser, unsafe_libyaml::YAML_UTF8_ENCODING);
            unsafe_libyaml::yaml_parser_set_input_string(
                parser,
                input.as_ptr(),
                input.len() as u64,
            );
        }
        Self {
            parser: sys,
            _input: input,
            keep_scalars: false,
        }
    }

    /// A parser whose scalar events carry their text (up to 256 bytes).
    fn keeping_scalars(input: &'a [u8]) -> Self {
        let mut parser = Self::new(input);
        parser.keep_scalars = true;
        parser
    }

    fn next(&mut self) -> Result<Event, Error> {
        let parser = self.parser.as_mut_ptr();
        let mut raw = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised in `new`; on success the event
        // is initialised and deleted below after its fields are read.
        unsafe {
            if unsafe_libyaml::yaml_parser_parse(parser, raw.as_mut_ptr()).fail {
                let state = &*parser;
                let problem = cstr(state.problem).unwrap_or("invalid YAML");
                let context = cstr(state.context);
                let mark = state.problem_mark;
                return Err(Error::Syntax {
                    message: match context {
                        Some(context) => format!("{context}: {problem}"),
                        None => problem.to_string(),
                    },
                    line: mark.line as usize + 1,
                    column: mark.column as usize + 1,
                });
            }
            let event = raw.assume_init_mut();
            let line = event.start_mark.line as usize + 1;
            let kind = match event.type_ {
                unsafe_libyaml::YAML_STREAM_END_EVENT => Kind::StreamEnd,
                unsafe_libyaml::YAML_ALIAS_EVENT => Kind::Alias,
                unsafe_libyaml::YAML_SCALAR_EVENT => {
                    let s = event.data.scalar;
                    let text = std::slice::from_raw_parts(s.value, s.length as usize);
                    Kind::Node {
                        anchor: !s.anchor.is_null(),
                        tag: !s.tag.is_null(),
                        collection: None,
                        merge_key: text == b"<<",
                        scalar: self.keep_scalars.then(|| {
                            String::from_utf8_lossy(&text[..text.len().min(256)]).into_owned()
                        }),
                    }
                }
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT => {
                    let s = event.data.sequence_start;
                    Kind::Node {
                        anchor: !s.anchor.is_null(),
                        tag: !s.tag.is_null(),
                        collection: Some(false),
                        merge_key: false,
                        scalar: None,
                    }
                }
                unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                    let m = event.data.mapping_start;
                    Kind::Node {
                        anchor: !m.anchor.is_null(),
                        tag: !m.tag.is_null(),
                        collection: Some(true),
                        merge_key: false,
                        scalar: None,
                    }
                }
                unsafe_libyaml::YAML_SEQUENCE_END_EVENT
                | unsafe_libyaml::YAML_MAPPING_END_EVENT => Kind::End,
                _ => Kind::Other,
            };
            unsafe_libyaml::yaml_event_delete(event);
            Ok(Event { line, kind })
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, deleted once.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

/// A C string libyaml owns, if present and UTF-8.
///
/// SAFETY: `ptr` is null or points at a NUL-terminated string that lives as
/// long as the parser (libyaml's error messages are static strings).
unsafe fn cstr<'a>(ptr: *const std::ffi::c_char) -> Option<&'a str> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: see above.
    unsafe { std::ffi::CStr::from_ptr(ptr) }.to_str().ok()
}

impl fmt::Debug for Parser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Parser")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_line_of_every_key() {
        let text = "stack:\n  source: ./s\nvalues:\n  app:\n    enabled: true\n    hosts:\n      - a\n      - name: b\n  other: {x: 1}\n";
        let lines = key_lines(text);
        for (path, line) in [
            ("stack", 1),
            ("stack.source", 2),
            ("values.app", 4),
            ("values.app.enabled", 5),
            ("values.app.hosts[0]", 7),
            ("values.app.hosts[1].name", 8),
            ("values.other.x", 9),
        ] {
            assert_eq!(lines.get(path), Some(&line), "{path}: {lines:?}");
        }
        assert!(key_lines("a: &x 1\n").is_empty());
    }

    #[test]
    fn plain_manifests_pass() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"<<\"\n  list: [a, {b: c}]\n---\n---\nkind: X\n";
        check(text).unwrap();
        let docs = documents(text);
        assert_eq!(docs.len(), 3);
        assert!(docs[1].as_ref().unwrap().is_null());
    }

    #[test]
    fn refuses_what_has_no_place_in_a_manifest() {
        let cases = [
            ("a: &x [1]\nb: *x\n", "anchor"),
            ("a: *x\n", "alias"),
            ("a: !!binary aGk=\n", "tag"),
            ("a: !custom {b: 1}\n", "tag"),
            (
                "base: {x: 1}\nobj:\n  <<: {stringData: {p: s}}\n",
                "merge key",
            ),
            ("- {<<: {a: 1}}\n", "merge key"),
        ];
        for (text, what) in cases {
            let err = check(text).unwrap_err().to_string();
            assert!(err.contains(what), "{text:?}: {err}");
        }
        // `<<` as a value, not a key, is plain text.
        check("a: <<\nb: [<<]\n").unwrap();
    }

    #[test]
    fn depth_and_size_are_bounded_before_values_are_built() {
        let deep = "[".repeat(100_000);
        let started = std::time::Instant::now();
        assert!(matches!(check(&deep), Err(Error::TooDeep { .. })));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let ok = format!("{}x{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        check(&ok).unwrap();

        let many = format!("[{}]", "a,".repeat(MAX_NODES + 1));
        assert_eq!(check(&many), Err(Error::TooManyNodes));
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = check("a: [\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = from_str::<Value>("a: b\n  c: d\n").unwrap_err().to_string();
        assert!(err.contains("line"), "{err}");
    }
}
