"""Rich text from outside keeps its formatting and loses everything that could run."""

import pytest
from django.template import Context, Template

from aftersales.core.sanitize import sanitize_html


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("<script>window.__xss=1</script>Hello", "Hello"),
        ('<img src=x onerror="window.__xss=1">', ""),
        ('<a href="javascript:alert(1)">link</a>', '<a rel="noopener noreferrer">link</a>'),
        ('<a href="JaVaScRiPt:alert(1)">link</a>', '<a rel="noopener noreferrer">link</a>'),
        ('<a href="java&#x09;script:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        (
            '<a href="data:text/html,<script>alert(1)</script>">x</a>',
            '<a rel="noopener noreferrer">x</a>',
        ),
        ('<svg onload="alert(1)"><circle/></svg>after', "after"),
        ('<p style="width: expression(alert(1))">text</p>', "<p>text</p>"),
        ("<style>body{background:url(javascript:alert(1))}</style>text", "text"),
        ('<iframe src="https://evil.example"></iframe>x', "x"),
        ('<form action="https://evil.example"><input name=p></form>x', "x"),
        ('<object data="x.swf"></object><embed src="x.swf">x', "x"),
        ('<p onclick="alert(1)" class="x" id="y">p</p>', "<p>p</p>"),
        ('<math><mi xlink:href="javascript:alert(1)">m</mi></math>after', "after"),
        ("<!-- <script>alert(1)</script> -->ok", "ok"),
        ('<a href="/admin/">relative</a>', '<a rel="noopener noreferrer">relative</a>'),
    ],
)
def test_classic_payloads_lose_everything_that_runs(payload: str, expected: str) -> None:
    assert sanitize_html(payload) == expected


def test_formatting_of_an_article_or_email_is_kept() -> None:
    text = (
        "<h3>更换滤网</h3><p>先<strong>断电</strong>，再<em>取出</em>滤网。</p>"
        "<ol><li>one</li><li>two</li></ol><ul><li>x</li></ul><blockquote>quoted</blockquote>"
        "<pre><code>E42</code></pre><h4>t</h4><br>"
        '<table><thead><tr><th colspan="2">A</th></tr></thead>'
        "<tbody><tr><td>1</td><td>2</td></tr></tbody></table>"
    )
    assert sanitize_html(text) == text


def test_links_keep_safe_schemes_and_never_reach_back_to_the_page() -> None:
    assert sanitize_html('<a href="https://help.example.com/a" target="_blank">a</a>') == (
        '<a href="https://help.example.com/a" rel="noopener noreferrer">a</a>'
    )
    assert sanitize_html('<a href="http://x.example">b</a>') == (
        '<a href="http://x.example" rel="noopener noreferrer">b</a>'
    )
    assert sanitize_html('<a href="mailto:help@example.com">c</a>') == (
        '<a href="mailto:help@example.com" rel="noopener noreferrer">c</a>'
    )


def test_rich_text_filter_renders_the_sanitised_html_unescaped() -> None:
    template = Template("{% load rich_text %}{{ body|rich_text }}|{{ body }}")
    body = "<p>ok</p><script>window.__xss=1</script>"
    rendered = template.render(Context({"body": body}))
    assert rendered == (
        "<p>ok</p>|&lt;p&gt;ok&lt;/p&gt;&lt;script&gt;window.__xss=1&lt;/script&gt;"
    )
    assert Template("{% load rich_text %}[{{ missing|rich_text }}]").render(Context()) == "[]"
