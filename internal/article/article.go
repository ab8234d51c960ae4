// Package article reads the title and body text of a news article out of an HTML page, so that
// a classifier reads what a person reads on the page and nothing else.
//
// # What is kept
//
// The page is parsed with a real HTML parser (golang.org/x/net/html, the HTML5 parsing
// algorithm browsers use, so broken markup is read as a browser reads it). For a whole page the
// article body is then found with codeberg.org/readeck/go-readability (a port of Firefox's
// Reader View), which scores the page's blocks and keeps the article's. When it finds no
// article, as for a short fragment such as "<p>A paragraph.</p>", the text of the page's
// body is used instead. Either way scripts, styles, templates, navigation, headers, footers,
// asides, forms, hidden elements and comments never reach the text.
//
// The text keeps paragraphs apart (a blank line between blocks) and collapses other white
// space. The title is the article's headline as readability finds it, else the page's <title>.
//
// # Limits
//
// Extract reads what it is given: the caller bounds the page's size. A page whose body holds no
// text gets [ErrNoText]. Extract is safe for concurrent use.
package article

import (
	"errors"
	"fmt"
	"strings"

	"codeberg.org/readeck/go-readability/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ErrUnreadable is returned for a page the HTML parser refuses: one nested deeper than 512
// elements, which no real page is.
var ErrUnreadable = errors.New("article: the HTML cannot be read")

// ErrNoText is returned for a page with no article text: empty, only markup, or only what is
// never kept (scripts, navigation, ...).
var ErrNoText = errors.New("article: the HTML holds no article text")

// Article is what was read out of a page.
type Article struct {
	// Title is the article's headline, or the page's <title>; empty when it has neither.
	Title string
	// Text is the article body as plain text: paragraphs separated by a blank line.
	Text string
}

// maxElements bounds the elements readability scores; a page with more is read by the plain
// body walk, whose cost is linear in the page.
const maxElements = 200_000

// Extract reads the article of page, an HTML document or fragment in UTF-8.
func Extract(page string) (Article, error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return Article{}, fmt.Errorf("%w: %v", ErrUnreadable, strings.TrimPrefix(err.Error(), "html: "))
	}
	pageTitle := titleOf(doc)

	// readability changes the tree it reads; the plain walk needs the original, so readability
	// gets the tree only when it is not needed again (most pages), and a second parse otherwise.
	p := readability.NewParser()
	p.MaxElemsToParse = maxElements
	p.DisableJSONLD = true
	var text, title string
	if a, err := p.ParseAndMutate(doc, nil); err == nil && a.Node != nil {
		var b strings.Builder
		if a.RenderText(&b) == nil {
			text = tidy(b.String())
		}
		title = strings.TrimSpace(a.Title())
	}
	if len(text) < minArticleBytes {
		// A short answer is a fragment's, or readability's guess on a page with little text,
		// where it may keep a menu: the plain walk, which never keeps one, reads it instead.
		doc, _ = html.Parse(strings.NewReader(page))
		text = bodyText(doc)
	}
	if title == "" {
		title = pageTitle
	}
	if text == "" {
		return Article{Title: title}, ErrNoText
	}
	return Article{Title: title, Text: text}, nil
}

// minArticleBytes is the shortest text of readability's that is taken as the article.
const minArticleBytes = 200

// titleOf is the text of the page's <title>.
func titleOf(doc *html.Node) string {
	var find func(*html.Node) string
	find = func(n *html.Node) string {
		if n.Type == html.ElementNode && n.DataAtom == atom.Title {
			var b strings.Builder
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.TextNode {
					b.WriteString(c.Data)
				}
			}
			return strings.Join(strings.Fields(b.String()), " ")
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Body {
			return "" // a <title> belongs in the head
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if t := find(c); t != "" {
				return t
			}
		}
		return ""
	}
	return find(doc)
}

// tidy collapses white space within lines and keeps one blank line between paragraphs.
func tidy(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for para := range strings.SplitSeq(s, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		for i, w := range words {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
	}
	return b.String()
}
