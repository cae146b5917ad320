//! A component's readme as HTML for the configure page. The readme is the
//! stack author's text: raw HTML in it is shown as text, and only web and
//! in-page links stay links, so a readme can neither run script nor make
//! the page load anything (the Content-Security-Policy forbids both as
//! well).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// The largest readme rendered; longer ones are cut.
const MAX_README: usize = 256 * 1024;

pub fn to_html(readme: &str) -> String {
    let mut end = readme.len().min(MAX_README);
    while !readme.is_char_boundary(end) {
        end -= 1;
    }
    let parser = Parser::new_ext(&readme[..end], Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        // Images would be requests: shown as their text.
        Event::Start(Tag::Image { .. }) => Event::Text(CowStr::Borrowed("")),
        Event::End(pulldown_cmark::TagEnd::Image) => Event::Text(CowStr::Borrowed("")),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with('#') {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn renders_markdown_and_shows_html_as_text() {
        let cases = [
            (
                "# Title\n\nSome *text*.",
                "<h1>Title</h1>\n<p>Some <em>text</em>.</p>\n",
            ),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            (
                "a <img src=x onerror=alert(1)> b",
                "a &lt;img src=x onerror=alert(1)&gt; b",
            ),
            ("[x](javascript:alert(1))", "<a href=\"#\">x</a>"),
            (
                "[docs](https://example.com/d)",
                "<a href=\"https://example.com/d\">docs</a>",
            ),
            ("![logo](https://example.com/l.png)", "<p>logo</p>\n"),
        ];
        for (readme, want) in cases {
            let got = to_html(readme);
            assert!(got.contains(want), "{readme:?} gave {got:?}");
        }
    }
}
