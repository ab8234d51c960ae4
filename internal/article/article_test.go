package article

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func readPage(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/news-page.html")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The test page marks every part that is not the article with a word starting "zz": in
// scripts, styles, comments, navigation, the cookie banner, the search form, an ad, the
// image's alt text, the related-stories aside and the footer.
func TestExtractNewsPage(t *testing.T) {
	a, err := Extract(readPage(t))
	if err != nil {
		t.Fatalf("Extract(news page) = %v", err)
	}
	if strings.Contains(a.Text, "zz") {
		t.Errorf("Extract(news page).Text holds text from outside the article:\n%s", a.Text)
	}
	for _, want := range []string{
		"Hackers broke into the interior ministry's email servers",
		"attributed the attack to a group",
		"process asylum claims at reception centres abroad",
		"summoned the ambassador",
		"left its servers unpatched for so long.",
	} {
		if !strings.Contains(a.Text, want) {
			t.Errorf("Extract(news page).Text lacks %q:\n%s", want, a.Text)
		}
	}
	if want := "Ministry servers breached as talks on border controls leak"; !strings.HasPrefix(a.Title, want) {
		t.Errorf("Extract(news page).Title = %q, want it to start with %q", a.Title, want)
	}
	if strings.Contains(a.Text, "\n\n\n") || strings.Contains(a.Text, "  ") {
		t.Errorf("Extract(news page).Text has runs of white space:\n%q", a.Text)
	}
	if n := strings.Count(a.Text, "\n\n"); n < 4 {
		t.Errorf("Extract(news page).Text has %d paragraph breaks, want the article's 5 paragraphs apart:\n%s", n, a.Text)
	}
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name, page, title, text string
	}{
		{"fragment", "<p>Border police intercepted a boat carrying 80 asylum seekers.</p>", "",
			"Border police intercepted a boat carrying 80 asylum seekers."},
		{"fragment with markup", "<div><h2>Treaty signed</h2><p>The two <b>foreign ministers</b> signed a treaty.<br>Talks go on.</p></div>", "",
			"Treaty signed\n\nThe two foreign ministers signed a treaty.\n\nTalks go on."},
		{"title from the head", "<html><head><title> Hack  at the port </title></head><body><p>Ransomware stopped the cranes.</p></body></html>",
			"Hack at the port", "Ransomware stopped the cranes."},
		{"script, style and comment dropped", "<p>Hackers<!-- zzcomment --> struck.<script>zzscript()</script><style>.zz{}</style></p>", "",
			"Hackers struck."},
		{"hidden dropped", `<p>Visible text.</p><p hidden>zzhidden</p><div style="display: none">zzhidden</div>`, "", "Visible text."},
		{"entities", "<p>Talks in Br&uuml;ssel &amp; Geneva&nbsp;ended.</p>", "", "Talks in Brüssel & Geneva ended."},
		{"plain text", "Just words, no markup.", "", "Just words, no markup."},
		{"broken markup", "<p>Unclosed <b>bold <i>italic</p><p>Next paragraph", "", "Unclosed bold italic\n\nNext paragraph"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Extract(tt.page)
			if err != nil {
				t.Fatalf("Extract(%q) = %v", tt.page, err)
			}
			if a.Text != tt.text || a.Title != tt.title {
				t.Errorf("Extract(%q) = {%q, %q}, want {%q, %q}", tt.page, a.Title, a.Text, tt.title, tt.text)
			}
		})
	}
}

func TestExtractNoText(t *testing.T) {
	for _, page := range []string{
		"",
		"   \n ",
		"<html><head><title>Empty</title></head><body></body></html>",
		"<script>var zz = 1;</script><style>p{}</style><!-- only a comment -->",
		"<nav><a href=/>Home</a> <a href=/news>News</a></nav><footer>© 2026</footer>",
		"<img src=a.png alt=picture><br><hr>",
	} {
		if a, err := Extract(page); !errors.Is(err, ErrNoText) {
			t.Errorf("Extract(%q) = %+v, %v, want ErrNoText", page, a, err)
		}
	}
}

func TestExtractTooDeep(t *testing.T) {
	page := strings.Repeat("<div>", 600) + "text" + strings.Repeat("</div>", 600)
	if _, err := Extract(page); !errors.Is(err, ErrUnreadable) {
		t.Errorf("Extract(600 nested divs) = %v, want ErrUnreadable", err)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(readPage(f))
	f.Add("<p>a</p>")
	f.Add("<table><tr><td>x<td>y</table><script>z</script>")
	f.Fuzz(func(t *testing.T, page string) {
		a, err := Extract(page)
		if err != nil {
			if !errors.Is(err, ErrNoText) && !errors.Is(err, ErrUnreadable) {
				t.Fatalf("Extract(%q) = %v, want ErrNoText or ErrUnreadable", page, err)
			}
			return
		}
		if strings.TrimSpace(a.Text) != a.Text || a.Text == "" {
			t.Fatalf("Extract(%q).Text = %q: empty or untrimmed", page, a.Text)
		}
	})
}

// BenchmarkExtract reports the rate in MB/s of HTML: the test page as it is (3.7 KB, mostly
// article), and the same page bloated the way real news pages are, with 150 KB of inline
// scripts and styles and 300 links of navigation around the same article.
func BenchmarkExtract(b *testing.B) {
	page := readPage(b)
	var bloat strings.Builder
	for i := range 300 {
		fmt.Fprintf(&bloat, `<li><a href="/section/%d">Section %d</a></li>`, i, i)
	}
	script := "<script>" + strings.Repeat("window.dataLayer.push({event: 'view', id: 12345});\n", 2000) + "</script>"
	style := "<style>" + strings.Repeat(".c { margin: 0 auto; padding: 1rem; }\n", 1000) + "</style>"
	bloated := strings.Replace(page, "</head>", script+style+"</head>", 1)
	bloated = strings.Replace(bloated, "<main>", "<nav><ul>"+bloat.String()+"</ul></nav><main>", 1)
	for _, bc := range []struct{ name, page string }{{"article", page}, {"bloated", bloated}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.page)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Extract(bc.page); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
