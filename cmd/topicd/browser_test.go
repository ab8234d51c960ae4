package main

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshot = flag.String("screenshot", "", "write a screenshot of the page after a classification to this PNG file (the README's is docs/page.png)")

// chromium finds the browser. In CI (CI set) a missing browser fails the test: .ci/run installs
// the Debian package chromium.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI runs this test")
	return ""
}

// browser starts a headless Chromium with a fresh profile and no network of its own.
func browser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1200),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// apiClassify is what the API answers for text, as the page asks it.
func apiClassify(t *testing.T, addr, text string) (label string, terms map[string][]string, topics int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"document": map[string]any{"text": text},
		"options":  map[string]any{"explain": true, "explainTerms": 25},
	})
	resp, err := http.Post("http://"+addr+"/v1/classify", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Classification struct {
			Label        string `json:"label"`
			Explanations []struct {
				Label string `json:"label"`
				Terms []struct {
					Term string `json:"term"`
				} `json:"terms"`
			} `json:"explanations"`
			Topics []json.RawMessage `json:"topics"`
		} `json:"classification"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	terms = map[string][]string{}
	for _, x := range r.Classification.Explanations {
		for _, term := range x.Terms {
			terms[x.Label] = append(terms[x.Label], term.Term)
		}
	}
	return r.Classification.Label, terms, len(r.Classification.Topics)
}

// TestPageInBrowser drives the page at / in headless Chromium against a real topicd: paste an
// article, press Classify, read the label, the bars and the marked words from the page; an empty
// text shows the error; the keyboard and an HTML file work; nothing overflows at phone width.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	p := startTopicd(t, "--max-document-bytes", "4000")
	addr := httpAddr(t, p)
	wantLabel, wantTerms, wantTopics := apiClassify(t, addr, sampleArticle)

	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+addr+"/"),
		chromedp.WaitReady(chromedp.CSS(`#model option[value="news-topics"]`)),
		chromedp.SetValue(chromedp.ID("text"), sampleArticle),
		chromedp.Click(chromedp.ID("classify")),
		chromedp.WaitVisible(chromedp.ID("results")),
	)
	if err != nil {
		t.Fatalf("load the page, paste an article and classify: %v\n%s", err, p.Logs())
	}
	label, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("label")))
	if err != nil || label != wantLabel {
		t.Errorf("page label = %q (%v), want the API's %q", label, err, wantLabel)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
		`[...document.querySelectorAll('#scores li')].map(li => [li.dataset.label, li.querySelector('.bar span').style.width])`))
	if err != nil || len(bars) != 4 {
		t.Fatalf("page bars = %v (%v), want one per label (4)", bars, err)
	}
	for _, b := range bars {
		if !strings.HasSuffix(b[1], "%") {
			t.Errorf("bar of %s has width %q, want a percentage", b[0], b[1])
		}
	}
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
		`[...document.querySelectorAll('#highlighted mark')].map(m => [m.textContent, m.dataset.label])`))
	if err != nil || len(marks) == 0 {
		t.Fatalf("page marks = %v (%v), want the words behind the label marked", marks, err)
	}
	for _, m := range marks {
		word := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(strings.Join(strings.Fields(m[0]), " ")), "'s"), "’s")
		if !slices.Contains(wantTerms[m[1]], word) {
			t.Errorf("page marks %q for %s, which is not among the API's terms for it: %v", m[0], m[1], wantTerms[m[1]])
		}
	}
	chips, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#topics li').length`))
	if err != nil || chips != wantTopics {
		t.Errorf("page shows %d topics (%v), want the API's %d", chips, err, wantTopics)
	}
	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// An empty text shows the error, and the focus goes back to the text.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("text"), "   "),
		chromedp.Click(chromedp.ID("classify")),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	if err != nil || !strings.Contains(msg, "empty") {
		t.Errorf("error for an empty text = %q (%v), want it to say the text is empty", msg, err)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if err != nil || focused != "text" {
		t.Errorf("focus after the empty-text error = %q (%v), want the text box", focused, err)
	}

	// A text over the server's limit shows the server's message, with the limit.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("text"), strings.Repeat("Hackers stole the files. ", 200)),
		chromedp.Click(chromedp.ID("classify")),
	)
	if err == nil {
		err = poll(ctx, `document.getElementById('error').textContent.includes('limit of 4000 bytes')`)
	}
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
		t.Errorf("a text over the limit: %v; error shown: %q", err, msg)
	}

	// With the keyboard: Ctrl+Enter in the text box classifies.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("text"), "Border police intercepted a boat carrying 80 asylum seekers off Lampedusa."),
		chromedp.Focus(chromedp.ID("text")),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.WaitNotVisible(chromedp.ID("error")),
	)
	if err == nil {
		err = poll(ctx, `document.getElementById('label').textContent === 'migration'`)
	}
	if err != nil {
		t.Errorf("Ctrl+Enter did not classify the new text: %v", err)
	}

	// An HTML file: the page reads it, ticks HTML, and shows what the model read of it.
	page, err := filepath.Abs("../../internal/article/testdata/news-page.html")
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{page}))
	if err == nil {
		err = poll(ctx, `document.getElementById('html').checked && document.getElementById('text').value.includes('<article')`)
	}
	if err == nil {
		err = chromedp.Do(ctx, chromedp.Click(chromedp.ID("classify")))
	}
	if err == nil {
		err = poll(ctx, `document.getElementById('read-title').textContent.startsWith('Ministry servers breached')`)
	}
	if err != nil {
		t.Fatalf("classify an HTML file: %v", err)
	}
	read, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("highlighted")))
	if err != nil || strings.Contains(read, "zz") || strings.Contains(read, "<p>") || !strings.Contains(read, "summoned the ambassador") {
		t.Errorf("text shown for the HTML file = %q (%v), want the article only", read, err)
	}

	// At phone width nothing is wider than the screen.
	err = chromedp.Do(ctx, chromedp.EmulateViewport(360, 740))
	if err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || width > 360 {
		t.Errorf("page width at a 360 px viewport = %d (%v), want at most 360", width, err)
	}
}

// poll waits until the JavaScript expression is true.
func poll(ctx context.Context, expr string) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr))
	return err
}
