//! Text that a component or a stack wrote, made safe to show or to embed.
//!
//! A component's title, description, diagnostics and log reach the user's
//! terminal and, as comments, the `cairn.yaml` that `init` writes. Left as
//! they are, a newline in a description injects YAML under `values:`, and
//! an escape sequence rewrites the terminal (hides lines, sets the window
//! title, forges a hyperlink). Every such string is cleaned where it enters
//! cairn ([`one_line`], [`lines`]), and everything cairn prints goes through
//! [`terminal`] once more.

/// At most `max` characters of `text` on one line: every control character
/// (newlines, tabs, escapes) becomes a space, runs of spaces collapse, and a
/// cut is marked with `...`.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    let mut count = 0;
    let mut space = false;
    for c in text.trim().chars() {
        let c = if c.is_control() || is_invisible(c) {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count == max {
            out.truncate(out.trim_end().len());
            out.push_str("...");
            return out;
        }
        out.push(c);
        count += 1;
    }
    out.truncate(out.trim_end().len());
    out
}

/// At most `max` characters of `text`, keeping newlines and tabs; every
/// other control character is shown escaped (`\u{1b}`), never interpreted.
pub fn lines(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 64));
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push_str("\n... (cut)");
            break;
        }
        push_visible(&mut out, c);
    }
    out
}

/// `text` with every control character but newline and tab escaped, so
/// that what cairn prints cannot drive the terminal.
pub fn terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_visible(&mut out, c);
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_invisible(c)
}

fn push_visible(out: &mut String, c: char) {
    if needs_escape(c) {
        out.extend(c.escape_unicode());
    } else {
        out.push(c);
    }
}

/// Characters that change how the text around them is shown: bidirectional
/// overrides and isolates (which can make a line read as something else).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_neutralises_newlines_escapes_and_length() {
        let cases = [
            (
                "Ingress\n  evil: true\nvalues:",
                100,
                "Ingress evil: true values:",
            ),
            ("a\u{1b}]0;pwned\u{7}b", 100, "a ]0;pwned b"),
            ("  lots   of\tspace ", 100, "lots of space"),
            ("abcdefghij", 4, "abcd..."),
            ("ab cdef", 3, "ab..."),
            ("right\u{202e}txt.exe", 100, "right txt.exe"),
        ];
        for (input, max, want) in cases {
            assert_eq!(one_line(input, max), want, "{input:?}");
        }
    }

    #[test]
    fn terminal_and_lines_escape_but_keep_layout() {
        assert_eq!(terminal("plain\nline\tx"), "plain\nline\tx");
        assert_eq!(terminal("red \u{1b}[31m"), "red \\u{1b}[31m");
        assert_eq!(lines("a\u{1b}b\nc", 100), "a\\u{1b}b\nc");
        assert_eq!(lines("abcdef", 3), "abc\n... (cut)");
    }
}
